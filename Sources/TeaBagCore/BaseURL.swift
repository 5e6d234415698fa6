/// The rule for every base URL the protocol passes around — `store_url`,
/// `table_url`, `table.url` (docs/protocol.md#table): http or https, a host, ending with
/// `/`, no query or fragment, so that route paths can be appended to it.
import Foundation

public enum BaseURL {
    public static func isValid(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", url.host?.isEmpty == false else { return false }
        return url.query == nil && url.fragment == nil && text.hasSuffix("/")
    }
}
