/// Reducers over numbers declared in conf.d and called through libffi
/// (docs/plugins.md#reducers-declared-in-confd-libffi): any exported C function `R f(A state, B payload)` with R, A,
/// B each `int64` or `double`, no glue code.
import CFFI
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif

/// A declaration as conf.d gives it: `reducers.<type>.{library,symbol,signature,initial}`.
public struct DeclaredReducer: Sendable, Equatable {
    public var type: String
    public var library: String
    public var symbol: String
    public var signature: String
    public var initial: Double
    /// Where it was declared (file and key), for error messages.
    public var origin: String

    public init(type: String, library: String, symbol: String, signature: String, initial: Double, origin: String) {
        self.type = type
        self.library = library
        self.symbol = symbol
        self.signature = signature
        self.initial = initial
        self.origin = origin
    }
}

/// A C number type the declarations may use.
public enum FFINumber: String, Sendable, Equatable {
    case int64
    case double

    var ffiType: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .int64: tb_ffi_type_sint64()
        case .double: tb_ffi_type_double()
        }
    }
}

/// `R(A,B)` parsed.
public struct FFISignature: Sendable, Equatable {
    public let result: FFINumber
    public let state: FFINumber
    public let payload: FFINumber

    /// Parses `"double(double,double)"`; spaces are allowed around the parts.
    public init(parsing text: String) throws(FFIDeclarationError) {
        let compact = text.filter { !$0.isWhitespace }
        guard let open = compact.firstIndex(of: "("), compact.last == ")" else {
            throw FFIDeclarationError("signature \"\(text)\" must look like \"double(double,double)\"")
        }
        let resultName = String(compact[..<open])
        let argumentNames = compact[compact.index(after: open)..<compact.index(before: compact.endIndex)]
            .split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard argumentNames.count == 2 else {
            throw FFIDeclarationError("signature \"\(text)\" must take two arguments (state, payload), it takes \(argumentNames.count)")
        }
        func number(_ name: String) throws(FFIDeclarationError) -> FFINumber {
            guard let n = FFINumber(rawValue: name) else {
                throw FFIDeclarationError("signature \"\(text)\": type \"\(name)\" is not int64 or double")
            }
            return n
        }
        self.result = try number(resultName)
        self.state = try number(argumentNames[0])
        self.payload = try number(argumentNames[1])
    }
}

public struct FFIDeclarationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct FFIReducer: Reducer, @unchecked Sendable {
    public let type: String
    public let declaration: DeclaredReducer
    let signature: FFISignature
    // Unsafe 5: `cif` and its argument-type array are allocated once and
    // never freed (they live as long as the process may call the reducer);
    // ffi_call only reads them, so concurrent calls are safe. `function` is a
    // symbol of a library that is never dlclosed.
    let cif: UnsafeMutablePointer<ffi_cif>
    let function: UnsafeMutableRawPointer

    /// Opens the library, finds the symbol and prepares the call.
    public init(_ declaration: DeclaredReducer) throws(FFIDeclarationError) {
        guard OplogKey.isValidType(declaration.type) else {
            throw FFIDeclarationError("\(declaration.origin): \"\(declaration.type)\" is not a valid type name (1-64 of [A-Za-z0-9_-])")
        }
        let signature: FFISignature
        do { signature = try FFISignature(parsing: declaration.signature) } catch {
            throw FFIDeclarationError("\(declaration.origin).signature: \(error.message)")
        }
        _ = dlerror()
        guard let handle = dlopen(declaration.library, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw FFIDeclarationError("\(declaration.origin).library: cannot load \(declaration.library) (\(detail))")
        }
        guard let function = dlsym(handle, declaration.symbol) else {
            throw FFIDeclarationError("\(declaration.origin).symbol: \(declaration.library) has no symbol \(declaration.symbol)")
        }
        let arguments = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: 2)
        arguments[0] = signature.state.ffiType
        arguments[1] = signature.payload.ffiType
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, 2, signature.result.ffiType, arguments)
        guard status == FFI_OK else {
            throw FFIDeclarationError("\(declaration.origin): libffi cannot prepare \(declaration.signature) (status \(status.rawValue))")
        }
        self.type = declaration.type
        self.declaration = declaration
        self.signature = signature
        self.cif = cif
        self.function = function
    }

    public func validate(payload: JSON) throws(ReducerRefusal) {
        _ = try argument(payload, as: signature.payload, what: "payload")
    }

    public func fold(state: JSON, ops: ArraySlice<Op>) throws(ReducerRefusal) -> JSON {
        var current = try argument(state.isNull ? .number(declaration.initial) : state, as: signature.state, what: "state")
        for op in ops {
            let payload = try argument(op.payload ?? .null, as: signature.payload, what: "payload")
            current = call(state: current, payload: payload)
            if signature.result != signature.state {
                current = try argument(current.json, as: signature.state, what: "result")
            }
        }
        // An int64 state keeps every digit, past 2^53 too.
        if case .int64(let exact) = current { return .number(JSONNumber(exact)) }
        let value = current.asDouble
        guard value.isFinite else { throw ReducerRefusal("\(type): \(declaration.symbol) returned a non-finite number") }
        return .number(value)
    }

    enum Number {
        case int64(Int64)
        case double(Double)
        var json: JSON {
            switch self {
            case .int64(let i): .number(JSONNumber(i))
            case .double(let d): .number(d)
            }
        }
        var asDouble: Double {
            switch self {
            case .int64(let i): Double(i)
            case .double(let d): d
            }
        }
    }

    private func argument(_ json: JSON, as kind: FFINumber, what: String) throws(ReducerRefusal) -> Number {
        guard case .number(let d) = json else { throw ReducerRefusal("\(type): \(what) must be a number, got \(json.kindName)") }
        switch kind {
        case .double: return .double(d.doubleValue)
        case .int64:
            guard let i = json.int64Value else { throw ReducerRefusal("\(type): \(what) must be an integer, got \(d)") }
            return .int64(i)
        }
    }

    private func call(state: Number, payload: Number) -> Number {
        var a = state, b = payload
        return withArgumentPointer(&a) { pa in
            withArgumentPointer(&b) { pb in
                var arguments: [UnsafeMutableRawPointer?] = [pa, pb]
                switch signature.result {
                case .double:
                    var out: Double = 0
                    ffi_call(cif, unsafeBitCast(function, to: (@convention(c) () -> Void).self), &out, &arguments)
                    return .double(out)
                case .int64:
                    // libffi widens integer results to a full ffi_arg.
                    var out: Int64 = 0
                    ffi_call(cif, unsafeBitCast(function, to: (@convention(c) () -> Void).self), &out, &arguments)
                    return .int64(out)
                }
            }
        }
    }

    private func withArgumentPointer<R>(_ number: inout Number, _ body: (UnsafeMutableRawPointer) -> R) -> R {
        switch number {
        case .int64(var i): return withUnsafeMutablePointer(to: &i) { body(UnsafeMutableRawPointer($0)) }
        case .double(var d): return withUnsafeMutablePointer(to: &d) { body(UnsafeMutableRawPointer($0)) }
        }
    }
}
