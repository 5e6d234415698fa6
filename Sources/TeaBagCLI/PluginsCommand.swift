/// `teabag plugins list [DIR]` and `teabag plugins check FILE` (docs/plugins.md#the-abi-in-one-minute).
import ArgumentParser
import Foundation
import Logging
import TeaBagConfig
import TeaBagCore
import TeaBagPlugins

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Inspect reducer plugins.",
        subcommands: [List.self, Check.self, PluginsDiffCommand.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the types each plugin library provides, and why any is refused.")

        @Argument(help: "A plugin directory (default: ./Plugins).")
        var directory: String = "Plugins"

        @Option(name: .long, help: "A conf.d directory whose `reducers:` declarations (libffi) are listed too.")
        var config: String?

        func run() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIFailure.usage("\(directory) is not a directory; give the plugin directory to list (e.g. teabag plugins list Plugins)")
            }
            var declared: [DeclaredReducer] = []
            if let config {
                do { declared = try ConfD.load(directory: config).declaredReducers() } catch { throw CLIFailure.usage(error.description) }
            }
            let host = PluginHost(directories: [directory], declared: declared, logger: Logger(label: "teabag.plugins", factory: { _ in SwiftLogNoOpLogHandler() }))
            var byFile: [String: [PluginReducer]] = [:]
            for case let reducer as PluginReducer in host.reducers.values { byFile[reducer.file, default: []].append(reducer) }
            for file in byFile.keys.sorted() {
                for reducer in byFile[file]!.sorted(by: { $0.type < $1.type }) {
                    print("\((file as NSString).lastPathComponent)\t\(reducer.type)\t\(reducer.version)")
                }
            }
            for case let reducer as FFIReducer in host.reducers.values {
                print("conf.d\t\(reducer.type)\t\(reducer.declaration.symbol) from \(reducer.declaration.library) (\(reducer.declaration.signature))")
            }
            for refusal in host.refusals {
                print("refused\t\(refusal.file): \(refusal.reason)")
            }
            for error in host.declarationErrors {
                print("refused\t\(error.message)")
            }
            if byFile.isEmpty && host.refusals.isEmpty && declared.isEmpty {
                print("no plugin in \(directory) (build the shipped ones with `make plugins`)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the loader's checks on one library, then its validate and fold on sample ops.",
            discussion: "Exit status 2 when the loader refuses the library; a sample the reducer refuses is printed and still exits 0."
        )

        @Argument(help: "The plugin library (.so).")
        var file: String

        @Option(name: .long, help: "A payload to try, as JSON (repeatable). Default: a few of different kinds.")
        var sample: [String] = []

        func run() throws {
            guard FileManager.default.fileExists(atPath: file) else {
                throw CLIFailure.usage("\(file) does not exist; give the path of a plugin .so")
            }
            let reducers: [PluginReducer]
            do { reducers = try PluginLoader.load(file: file) } catch {
                throw CLIFailure.usage("refused: \(error.reason)")
            }
            var samples: [JSON] = []
            for text in sample {
                do { samples.append(try JSON.parse(text)) } catch {
                    throw CLIFailure.usage("--sample \(text) is not JSON (\(error.message)); quote it for the shell, e.g. --sample '{\"add\":1}'")
                }
            }
            if samples.isEmpty { samples = [1, 2.5, "text", ["add": 1], .null] }
            print("ok\t\(file): abi \(TEABAG_ABI_VERSION_VALUE), \(reducers.count) reducer(s)")
            for reducer in reducers {
                print("type\t\(reducer.type)\tversion \(reducer.version)")
                for payload in samples {
                    let op = OpFactory.payloadOp(payload: payload, node: "check", seq: 1, date: 1)
                    let verdict: String
                    do { try reducer.validate(payload: payload); verdict = "accepted" } catch { verdict = "refused: \(error.message)" }
                    let folded: String
                    do { folded = "→ \(try reducer.fold(state: .null, ops: [op][...]))" } catch { folded = "refused: \(error.message)" }
                    print("  payload \(payload)\tvalidate \(verdict)\tfold(null) \(folded)")
                }
            }
        }
    }
}
