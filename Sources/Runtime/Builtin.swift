// A builtin function and the library of them. Implementations live in
// Builtins+Strings.swift, Builtins+Lists.swift, Builtins+Files.swift and the
// bindings; their help text lives in HelpTable.swift (one data table).

import Foundation

/// A function implemented in Swift and callable from scripts.
public final class Builtin: Callable {
    public let name: String
    let impl: (Arguments, CallContext) throws -> Value

    public init(_ name: String, _ impl: @escaping (Arguments, CallContext) throws -> Value) {
        self.name = name
        self.impl = impl
    }

    public var signature: String { HelpTable.entry(name)?.signature ?? "\(name)(...)" }

    public func call(_ args: Arguments, _ ctx: CallContext) throws -> Value {
        try impl(args, ctx)
    }
}

/// The global functions every session starts with.
public enum Builtins {
    /// All builtins by name: the language library plus the MedR1Lib bindings
    /// registered by `registerBindings`.
    public static func library() -> [String: Builtin] {
        var lib: [String: Builtin] = [:]
        func add(_ name: String, _ f: @escaping (Arguments, CallContext) throws -> Value) {
            lib[name] = Builtin(name, f)
        }
        registerStrings(add)
        registerNumbers(add)
        registerLists(add)
        registerFiles(add)
        registerBindings(add)
        return lib
    }

    typealias Register = (String, @escaping (Arguments, CallContext) throws -> Value) -> Void
}
