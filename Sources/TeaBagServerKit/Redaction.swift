/// Secrets never reach a log line (docs/protocol.md#common-rules): the query string goes
/// entirely, and path segments that are secrets (a master, a token, a code)
/// are replaced.
public enum Redaction {
    public static let placeholder = "<redacted>"

    /// The path of a request as it may be logged: no query, no secret segments.
    public static func path(_ path: String) -> String {
        let withoutQuery = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        var segments = withoutQuery.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for index in segments.indices {
            let segment = segments[index]
            let previous = index > 0 ? segments[index - 1] : ""
            if segment.hasPrefix("session_") || segment.hasPrefix("store_") || previous == "master" || previous == "code" {
                segments[index] = placeholder
            }
        }
        return segments.joined(separator: "/")
    }
}
