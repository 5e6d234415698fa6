/// Aligned columns for people: the CLI's human summaries.
import TeaBagCore

enum TextTable {
    /// Rows padded so that every column lines up (the last one is not padded).
    static func render(_ rows: [[String]], indent: String = "") -> String {
        let widths = rows.reduce(into: [Int]()) { widths, row in
            for (index, cell) in row.enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            return indent + cells.joined(separator: "  ").trimmingTrailingSpaces
        }.joined(separator: "\n")
    }

    /// An object as `key  value` lines, nested objects flattened with dots,
    /// every other value as compact JSON.
    static func keyValues(_ value: JSON) -> String {
        var rows: [[String]] = []
        func walk(_ value: JSON, _ prefix: String) {
            if case .object(let members) = value, !members.isEmpty {
                for key in members.keys.sorted(by: { Array($0.utf16).lexicographicallyPrecedes(Array($1.utf16)) }) {
                    walk(members[key]!, prefix.isEmpty ? key : prefix + "." + key)
                }
            } else {
                rows.append([prefix, value.canonicalString])
            }
        }
        walk(value, "")
        return render(rows)
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
