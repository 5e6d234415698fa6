/// `teabag config defaults|docs`: the documents written from the one
/// configuration schema (`Sources/TeaBagConfig/Schema`).
import ArgumentParser
import Foundation
import TeaBagConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print what the configuration schema documents: every key at its default, or the docs' key tables.",
        subcommands: [Defaults.self, Docs.self]
    )

    struct Defaults: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print conf.d/00-defaults.yaml: every key, commented out, at its default.",
            discussion: "Regenerate the repository's copy with: teabag config defaults > conf.d/00-defaults.yaml")

        func run() throws {
            print(ConfigDocuments.defaultsYAML(), terminator: "")
        }
    }

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the key tables of docs/configuration.md, or rewrite them in place with --update.")

        @Option(help: "A Markdown file whose generated key tables (between the markers) are replaced.")
        var update: String?

        func run() throws {
            guard let update else {
                print(ConfigDocuments.markdownTables(), terminator: "")
                return
            }
            guard let document = try? String(contentsOfFile: update, encoding: .utf8) else {
                throw CLIFailure.usage("\(update): cannot read the file")
            }
            guard let updated = ConfigDocuments.updating(document) else {
                throw CLIFailure.usage("\(update): no generated key tables to replace (the markers `teabag config docs` prints are missing)")
            }
            do { try updated.write(toFile: update, atomically: true, encoding: .utf8) } catch {
                throw CLIFailure.runtime("\(update): cannot write the file (\(error.localizedDescription))")
            }
        }
    }
}
