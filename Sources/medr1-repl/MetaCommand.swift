// Meta-commands: the `:word` lines the interactive prompt understands besides
// statements of the language. They are not part of scripts (docs/language.md),
// so they are parsed here, before a line reaches the session, by a pure
// function that tests call without a terminal.

/// One meta-command typed at the prompt, already parsed and validated.
enum MetaCommand: Equatable, Sendable {
    /// `:help [topic]` – the session's help, or the list of meta-commands.
    case help(topic: String?)
    /// `:quit` (also `:q`, `:exit`) – leave the REPL, writing the history.
    case quit
    /// `:history` – the statements entered so far, numbered.
    case history
    /// `:vars` – what is bound, with a one-line summary each.
    case vars
    /// `:save FILE` – the statements that succeeded, as a replayable script.
    case save(path: String)
    /// `:load FILE` – run a script into the session.
    case load(path: String)
    /// `:time STMT` – run one statement and print its wall time.
    case time(statement: String)
    /// `:reset` – forget every binding, keep the history.
    case reset

    /// Every meta-command with its usage and a sentence, for `:help` and completion.
    static let catalogue: [(name: String, usage: String, summary: String)] = [
        ("help", ":help [topic]", "help on a builtin or topic; without a topic, this list"),
        ("quit", ":quit", "leave (Ctrl-D does the same)"),
        ("history", ":history", "the statements entered so far"),
        ("vars", ":vars", "what is bound, with a one-line summary"),
        ("save", ":save FILE", "write the statements that succeeded as a script"),
        ("load", ":load FILE", "run a script into this session"),
        ("time", ":time STMT", "run one statement and print how long it took"),
        ("reset", ":reset", "forget every binding (history is kept)"),
    ]

    /// The text `:help` prints before the session's own help overview.
    static var overview: String {
        let width = catalogue.map(\.usage.count).max() ?? 0
        var lines = ["Meta-commands (at the prompt only, not in scripts):"]
        for entry in catalogue {
            let pad = String(repeating: " ", count: width - entry.usage.count)
            lines.append("  \(entry.usage)\(pad)  \(entry.summary)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Why a `:` line could not be understood; `description` is what the user sees.
struct MetaCommandError: Error, Equatable, CustomStringConvertible {
    let description: String
}

extension MetaCommand {
    /// Whether `line` is meant as a meta-command: its first non-blank character is `:`.
    /// (No statement of the language starts with `:`.)
    static func isMetaCommand(_ line: String) -> Bool {
        line.drop(while: { $0 == " " || $0 == "\t" }).first == ":"
    }

    /// Parses a line such as `:save run.medr1`.
    ///
    /// The argument is the rest of the line with surrounding blanks removed; a
    /// path may be wrapped in double quotes (so it can hold leading spaces).
    /// Unique prefixes are accepted (`:h`, `:sa x`), as in GHCi.
    static func parse(_ line: String) throws -> MetaCommand {
        let trimmed = line.trimmingBlanks()
        guard trimmed.first == ":" else {
            throw MetaCommandError(description: "not a meta-command: '\(trimmed)' (meta-commands start with ':')")
        }
        let body = trimmed.dropFirst()
        let word = String(body.prefix(while: { !$0.isWhitespace }))
        let argument = String(body.dropFirst(word.count)).trimmingBlanks()
        guard !word.isEmpty else {
            throw MetaCommandError(description: "empty meta-command: type :help for the list")
        }
        let name = try resolve(word)
        switch name {
        case "help":
            return .help(topic: argument.isEmpty ? nil : argument)
        case "quit":
            try requireNoArgument(argument, for: name)
            return .quit
        case "history":
            try requireNoArgument(argument, for: name)
            return .history
        case "vars":
            try requireNoArgument(argument, for: name)
            return .vars
        case "reset":
            try requireNoArgument(argument, for: name)
            return .reset
        case "save":
            return .save(path: try path(argument, for: name))
        case "load":
            return .load(path: try path(argument, for: name))
        case "time":
            guard !argument.isEmpty else {
                throw MetaCommandError(description: ":time needs a statement, e.g. :time step t, 5")
            }
            return .time(statement: argument)
        default:
            throw MetaCommandError(description: "unknown meta-command ':\(word)': type :help for the list")
        }
    }

    /// Maps a typed word (or unique prefix, or alias) to a catalogue name.
    private static func resolve(_ word: String) throws -> String {
        let lowered = word.lowercased()
        let aliases = ["q": "quit", "exit": "quit", "h": "help", "?": "help"]
        if let alias = aliases[lowered] { return alias }
        let names = catalogue.map(\.name)
        if names.contains(lowered) { return lowered }
        let matches = names.filter { $0.hasPrefix(lowered) }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 {
            let list = matches.map { ":" + $0 }.joined(separator: ", ")
            throw MetaCommandError(description: "ambiguous meta-command ':\(word)': could be \(list)")
        }
        throw MetaCommandError(description: "unknown meta-command ':\(word)': type :help for the list")
    }

    private static func requireNoArgument(_ argument: String, for name: String) throws {
        if !argument.isEmpty {
            throw MetaCommandError(description: ":\(name) takes no argument (got '\(argument)')")
        }
    }

    private static func path(_ argument: String, for name: String) throws -> String {
        var text = argument
        if text.count >= 2, text.first == "\"", text.last == "\"" {
            text = String(text.dropFirst().dropLast())
        }
        guard !text.isEmpty else {
            throw MetaCommandError(description: ":\(name) needs a file name, e.g. :\(name) session.medr1")
        }
        return text
    }

    /// Completions for a line that starts with `:` (meta-command names, then nothing).
    static func completions(for line: String) -> [String] {
        let body = line.trimmingBlanks().dropFirst()
        guard !body.contains(where: { $0.isWhitespace }) else { return [] }
        return catalogue.map(\.name).filter { $0.hasPrefix(body.lowercased()) }.map { ":" + $0 }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isBlank($0) }),
              let end = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[start...end])
    }
}
