import Foundation
import Testing
import TeaBagConfig
import TeaBagCore
@testable import TeaBagPlugins

@Suite("Reducers declared in conf.d (libffi)")
struct FFIReducerTests {
    func declare(_ type: String, _ library: String, _ symbol: String, _ signature: String, initial: Double = 0) -> DeclaredReducer {
        DeclaredReducer(type: type, library: library, symbol: symbol, signature: signature, initial: initial, origin: "test.yaml: reducers.\(type)")
    }

    @Test("fmax from libm.so.6 folds a max, starting at initial")
    func fmax() throws {
        let reducer = try FFIReducer(declare("max", "libm.so.6", "fmax", "double(double,double)", initial: -100))
        #expect(Fold.fold(reducer, state: .null, ops: ops([3, -7, 12.5, 4])[...]).value == 12.5)
        #expect(Fold.fold(reducer, state: .null, ops: ops([-200])[...]).value == -100)
        #expect(Fold.fold(reducer, state: 50, ops: ops([3])[...]).value == 50)
    }

    @Test("functions of our own with int64 and mixed signatures")
    func ownLibrary() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = try compileFixture("ffi_funcs", into: directory)
        let add = try FFIReducer(declare("sum", library, "tb_add_i64", "int64(int64,int64)"))
        #expect(Fold.fold(add, state: .null, ops: ops([1, 2, 40])[...]).value == 43)
        let addDouble = try FFIReducer(declare("fsum", library, "tb_add", "double(double, double)", initial: 0.5))
        #expect(Fold.fold(addDouble, state: .null, ops: ops([0.25, 1])[...]).value == 1.75)
        let scale = try FFIReducer(declare("scale", library, "tb_scale", "double(double,int64)", initial: 1))
        #expect(Fold.fold(scale, state: .null, ops: ops([2, 3, 4])[...]).value == 24)
    }

    @Test("payloads that are not numbers are refused by validate and skipped by fold")
    func refusals() throws {
        let reducer = try FFIReducer(declare("max", "libm.so.6", "fmax", "double(double,double)"))
        #expect(throws: ReducerRefusal("max: payload must be a number, got string")) { try reducer.validate(payload: "7") }
        #expect(throws: Never.self) { try reducer.validate(payload: 7) }
        let history = ops([1, "x", 5])
        let outcome = Fold.fold(reducer, state: .null, ops: history[...])
        #expect(outcome.value == 5)
        #expect(outcome.skipped.map(\.sha) == [history[1].sha])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = try compileFixture("ffi_funcs", into: directory)
        let integer = try FFIReducer(declare("sum", library, "tb_add_i64", "int64(int64,int64)"))
        #expect(throws: ReducerRefusal("sum: payload must be an integer, got 1.5")) { try integer.validate(payload: 1.5) }
    }

    @Test("bad declarations name the file and key", arguments: [
        ("libm.so.6", "fmax", "double(double)", "test.yaml: reducers.max.signature: signature \"double(double)\" must take two arguments"),
        ("libm.so.6", "fmax", "float(double,double)", "type \"float\" is not int64 or double"),
        ("libm.so.6", "fmax", "double double", "must look like"),
        ("libnothere.so", "fmax", "double(double,double)", "test.yaml: reducers.max.library: cannot load libnothere.so"),
        ("libm.so.6", "no_such_symbol", "double(double,double)", "test.yaml: reducers.max.symbol: libm.so.6 has no symbol no_such_symbol"),
    ])
    func badDeclarations(library: String, symbol: String, signature: String, message: String) {
        do {
            _ = try FFIReducer(declare("max", library, symbol, signature))
            Issue.record("accepted a bad declaration")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("conf.d declarations load through the host next to plugins")
    func throughConfD() throws {
        let conf = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: conf) }
        try """
        # numbers only
        reducers:
          max:
            library: libm.so.6
            symbol: fmax
            signature: "double(double,double)"
            initial: 0
        """.write(toFile: "\(conf)/10-reducers.yaml", atomically: true, encoding: .utf8)
        try """
        reducers:
          max:
            initial: -5
          min:
            library: libm.so.6
            symbol: fmin
            signature: double(double,double)
            initial: 1000
        """.write(toFile: "\(conf)/20-override.yaml", atomically: true, encoding: .utf8)
        let declared = try ConfD.load(directory: conf).declaredReducers()
        #expect(declared.map(\.type) == ["max", "min"])
        #expect(declared[0].initial == -5)  // the later file wins key by key
        #expect(declared[0].library == "libm.so.6")
        let host = PluginHost(directories: [], declared: declared)
        #expect(host.types == ["max", "min"])
        #expect(host.fold(type: "min", state: .null, ops: ops([30, 7, 9])[...])?.value == 7)
        #expect(host.fold(type: "max", state: .null, ops: ops([-9])[...])?.value == -5)
    }
}

@Suite("conf.d errors")
struct ConfDTests {
    func load(_ files: [String: String]) throws(ConfigError) -> ConfD {
        let conf = NSTemporaryDirectory() + "conf-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        for (name, text) in files { try? text.write(toFile: "\(conf)/\(name)", atomically: true, encoding: .utf8) }
        return try ConfD.load(directory: conf)
    }

    @Test("an unknown key, a missing value and a wrong type each name the file and the key")
    func errors() throws {
        do {
            _ = try load(["a.yaml": "reducers:\n  max:\n    library: libm.so.6\n    symbol: fmax\n    signature: x\n    colour: red\n"]).declaredReducers()
            Issue.record("accepted an unknown key")
        } catch {
            #expect(error.origin.hasSuffix("/a.yaml"))
            #expect(error.key == "reducers.max.colour")
            #expect(error.description.contains("unknown key"))
        }
        do {
            _ = try load(["a.yaml": "reducers:\n  max:\n    library: libm.so.6\n    signature: x\n"]).declaredReducers()
            Issue.record("accepted a missing symbol")
        } catch {
            #expect(error.key == "reducers.max.symbol")
            #expect(error.problem.contains("missing"))
        }
        do {
            _ = try load(["a.yaml": "reducers:\n  max:\n    library: libm.so.6\n    symbol: fmax\n    signature: x\n    initial: lots\n"]).declaredReducers()
            Issue.record("accepted a string initial")
        } catch {
            #expect(error.key == "reducers.max.initial")
            #expect(error.problem == "must be a number")
        }
        do {
            _ = try load(["a.yaml": "reducers: [1, 2\n"])
            Issue.record("accepted invalid YAML")
        } catch {
            #expect(error.origin.hasSuffix("/a.yaml"))
            #expect(error.problem.hasPrefix("invalid YAML"))
        }
    }

    @Test("files are read in file-name order, later ones overriding key by key")
    func order() throws {
        let conf = try load(["20-b.yaml": "agent:\n  port: 9\n", "10-a.yaml": "agent:\n  port: 8\n  host: h\n"])
        #expect(conf.values["agent.port"]?.scalar == .int(9))
        #expect(conf.values["agent.port"]?.origin.hasSuffix("20-b.yaml") == true)
        #expect(conf.values["agent.host"]?.scalar == .string("h"))
    }
}
