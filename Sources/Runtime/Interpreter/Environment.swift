// Scopes and closures. A scope is a chain of environments: a block (loop
// body, if branch, function body) opens a child; `let` binds in the current
// one; `name = v` rebinds the nearest. A closure keeps the environment it
// was written in, so it sees (and can update) the variables around it.

import Foundation
import Lang

public final class Environment {
    public let parent: Environment?
    private(set) var values: [String: Value] = [:]
    /// Binding order, for `:vars` and completion.
    private(set) var order: [String] = []

    public init(parent: Environment?) { self.parent = parent }

    /// A closure keeps its scope alive and a scope keeps closures alive, so
    /// `for i in 0..<100000 { let h = g; g = fn() => h() }` builds a chain
    /// 100,000 scopes long. Freeing it recursively would overflow the stack;
    /// the scope's bindings are handed to `Reclaimer`, which frees nested
    /// scopes one after another instead of one inside another.
    deinit {
        // Only a binding that can hold a closure can lead to another scope.
        if values.values.contains(where: \.mayHoldScope) { Reclaimer.free(&values) }
    }

    /// `let name = value` in this scope (re-`let` replaces, as at a REPL).
    public func define(_ name: String, _ value: Value) {
        if values.updateValue(value, forKey: name) == nil { order.append(name) }
    }

    public func lookup(_ name: String) -> Value? {
        var env: Environment? = self
        while let e = env {
            if let v = e.values[name] { return v }
            env = e.parent
        }
        return nil
    }

    /// `name = value`: updates the nearest scope holding name; false if none does.
    public func assign(_ name: String, _ value: Value) -> Bool {
        var env: Environment? = self
        while let e = env {
            if e.values[name] != nil { e.values[name] = value; return true }
            env = e.parent
        }
        return false
    }

    /// Every visible name (inner scopes first), for completion.
    public var allNames: [String] {
        var seen = Set<String>(), out: [String] = []
        var env: Environment? = self
        while let e = env {
            for n in e.order where seen.insert(n).inserted { out.append(n) }
            env = e.parent
        }
        return out
    }

    public var bindings: [(name: String, value: Value)] { order.map { ($0, values[$0]!) } }

    func removeAll() { values = [:]; order = [] }
}

/// A function written in the language: parameters (with optional defaults),
/// a body, and the environment it closes over.
public final class Closure: Callable {
    public let name: String
    let function: FunctionExpr
    let env: Environment
    unowned let interpreter: Interpreter

    init(function: FunctionExpr, env: Environment, interpreter: Interpreter) {
        self.name = function.name ?? "fn"
        self.function = function
        self.env = env
        self.interpreter = interpreter
    }

    public var signature: String {
        "\(name)(" + function.params.map { $0.defaultValue == nil ? $0.name : "\($0.name) = ..." }.joined(separator: ", ") + ")"
    }

    public var parameterNames: [String] { function.params.map(\.name) }

    public func call(_ args: Arguments, _ ctx: CallContext) throws -> Value {
        try interpreter.invoke(self, args)
    }
}

extension Value {
    /// Whether freeing this value may free a scope (through a closure it holds).
    var mayHoldScope: Bool {
        switch self {
        case .number, .string, .bool, .null, .range: return false
        case .list, .record, .function, .host: return true
        }
    }
}

/// Frees the bindings of dying scopes iteratively: while one thread drains,
/// scopes that die inside it (through closures it held) queue their bindings
/// instead of freeing them on the spot.
enum Reclaimer {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pending: [[String: Value]] = []
    nonisolated(unsafe) private static var drainer: pthread_t?

    static func free(_ values: inout [String: Value]) {
        let me = pthread_self()
        lock.lock()
        if let d = drainer {
            if pthread_equal(d, me) != 0 {
                pending.append(values)
                values = [:]
            }
            // Another thread is draining: free here (rare, and bounded as before).
            lock.unlock()
            return
        }
        drainer = me
        lock.unlock()
        var batch = [values]
        values = [:]
        while !batch.isEmpty {
            batch.removeLast()
            lock.lock()
            batch += pending
            pending = []
            lock.unlock()
        }
        lock.lock()
        drainer = nil
        lock.unlock()
    }
}
