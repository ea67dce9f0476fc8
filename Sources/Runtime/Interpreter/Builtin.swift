// A builtin function and the library of them. Implementations live in
// Builtins+Strings.swift, Builtins+Lists.swift (lists, files, JSON) and the
// bindings; their help text lives in HelpTable.swift (one data table).

import Foundation

/// A function implemented in Swift and callable from scripts.
public final class Builtin: Callable {
    public let name: String
    /// The keyword arguments it accepts. Every call is checked against them
    /// before the body runs, so no builtin can silently ignore one.
    public let options: [String]
    let impl: (Arguments, CallContext) throws -> Value

    public init(_ name: String, options: [String] = [], _ impl: @escaping (Arguments, CallContext) throws -> Value) {
        self.name = name
        self.options = options
        self.impl = impl
    }

    public var signature: String { HelpTable.entry(name)?.signature ?? "\(name)(...)" }

    public func call(_ args: Arguments, _ ctx: CallContext) throws -> Value {
        if let bad = args.named.first(where: { !options.contains($0.name) }) {
            throw RuntimeError("\(args.callee) has no option '\(bad.name)'; "
                + (options.isEmpty ? "it takes none: \(signature)" : "options: \(options.joined(separator: ", "))"))
        }
        return try impl(args, ctx)
    }
}

/// The global functions every session starts with.
public enum Builtins {
    /// All builtins by name: the language library plus the MedR1Lib bindings
    /// registered by `registerBindings`.
    public static func library() -> [String: Builtin] {
        var lib: [String: Builtin] = [:]
        let add = Register { lib[$0.name] = $0 }
        registerStrings(add)
        registerNumbers(add)
        registerLists(add)
        registerFiles(add)
        registerBindings(add)
        return lib
    }

    /// `add("sort", options: ["by", "descending"]) { args, ctx in ... }`: one
    /// builtin with the keyword options it accepts (none when not given).
    struct Register {
        let add: (Builtin) -> Void

        func callAsFunction(_ name: String, options: [String] = [],
                            _ impl: @escaping (Arguments, CallContext) throws -> Value) {
            add(Builtin(name, options: options, impl))
        }
    }
}
