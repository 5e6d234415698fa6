/// The deliberately bad plugins of Tests/Fixtures/plugins, built with the
/// one `cc` line of docs/plugins.md into a directory of their own.
import Foundation
import TeaBagTestSupport

enum FixturePlugin {
    /// Builds `Tests/Fixtures/plugins/<name>.c` into `<directory>/<name>.so`.
    static func build(_ name: String, into directory: String) throws {
        let source = "\(Repository.root)/Tests/Fixtures/plugins/\(name).c"
        let compiler = try ChildProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O2", "-I", "\(Repository.root)/Plugins/include",
                                                         source, "-o", "\(directory)/\(name).so"], stderr: .pipe)
        let status = compiler.waitUntilExit()
        guard status == 0 else {
            let message = String(decoding: compiler.stderr?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            throw TestFailure("cc \(source) failed: \(message)")
        }
    }
}
