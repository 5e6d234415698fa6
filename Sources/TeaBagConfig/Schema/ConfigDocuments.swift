import Foundation

/// The two documents written from `ConfigSchema`: conf.d/00-defaults.yaml
/// and the key tables of docs/configuration.md. `teabag config defaults|docs`
/// prints them; a test keeps the repository's copies equal to them.
public enum ConfigDocuments {
    /// conf.d/00-defaults.yaml: every key, commented out, at its default.
    public static func defaultsYAML() -> String {
        var lines = [
            "# TeaBag configuration: every key, commented out, at its default.",
            "# Generated from Sources/TeaBagConfig/Schema by `teabag config defaults`; edit the schema, not this file.",
            "#",
            "# Files in conf.d/ are read in file-name order; a later file overrides an",
            "# earlier one key by key. Environment variables override files, command-line",
            "# flags override both. An unknown key, a value of the wrong type or a",
            "# missing required value stops the process at start, naming the file and the",
            "# key. Durations are milliseconds, or a number with ms, s, m or h (\"5s\");",
            "# ~ is unset. docs/configuration.md explains each key.",
        ]
        for section in ConfigSchema.sections {
            lines.append("")
            lines.append("# \(section.name):")
            for spec in section.keys {
                let setting = "\(spec.name): \(yaml(spec.defaultValue))"
                let padded = setting.count < 29 ? setting.padding(toLength: 29, withPad: " ", startingAt: 0) : setting + " "
                var comment = spec.summary
                if let choices = spec.choices, !spec.summary.contains(choices[0]) { comment += "; one of " + choices.joined(separator: ", ") }
                let sources = [spec.flag].compactMap { $0 } + spec.environment
                if !sources.isEmpty { comment += " (" + sources.joined(separator: ", ") + ")" }
                lines.append("#   \(padded)# \(comment)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let beginMarker = "<!-- keys: generated from Sources/TeaBagConfig/Schema by `teabag config docs --update docs/configuration.md`; edit the schema, not this part -->"
    static let endMarker = "<!-- end of the generated keys -->"

    /// The key tables of docs/configuration.md, one section each, markers included.
    public static func markdownTables() -> String {
        var lines = [beginMarker]
        for section in ConfigSchema.sections {
            lines += ["", "## \(section.title) (`\(section.name).*`)", ""]
            if let introduction = section.introduction { lines += [introduction, ""] }
            lines.append("| key | type | default | env | flag | what |")
            lines.append("| --- | --- | --- | --- | --- | --- |")
            for spec in section.keys {
                var type = spec.kind.rawValue
                if let choices = spec.choices { type += ": " + choices.map { "`\($0)`" }.joined(separator: ", ") }
                let defaultText = spec.defaultValue == .null ? "unset" : "`\(yaml(spec.defaultValue))`"
                let environment = spec.environment.map { "`\($0)`" }.joined(separator: ", ")
                let flag = spec.flag.map { "`\($0)`" } ?? ""
                let what = (spec.details ?? spec.summary).replacingOccurrences(of: "\n", with: " ")
                lines.append("| `\(spec.name)` | \(type) | \(defaultText) | \(environment) | \(flag) | \(what) |")
            }
        }
        lines += ["", endMarker]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `document` with its generated part replaced by `markdownTables()`;
    /// nil when the document has no markers.
    public static func updating(_ document: String) -> String? {
        guard let begin = document.range(of: beginMarker), let end = document.range(of: endMarker, range: begin.upperBound..<document.endIndex) else {
            return nil
        }
        var text = document
        let endOfLine = text[end.upperBound...].first == "\n" ? text.index(after: end.upperBound) : end.upperBound
        text.replaceSubrange(begin.lowerBound..<endOfLine, with: markdownTables())
        return text
    }

    /// A value as YAML writes it.
    static func yaml(_ scalar: ConfValue.Scalar) -> String {
        switch scalar {
        case .null: "~"
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        case .string(let s): plainOrQuoted(s)
        case .list(let items): "[" + items.map(plainOrQuoted).joined(separator: ", ") + "]"
        }
    }

    private static func plainOrQuoted(_ text: String) -> String {
        let plain = !text.isEmpty && Int(text) == nil && Double(text) == nil
            && !["~", "null", "true", "false"].contains(text.lowercased())
            && text.allSatisfy { $0.isLetter || $0.isNumber || "._/-".contains($0) }
        return plain ? text : "\"\(text)\""
    }
}
