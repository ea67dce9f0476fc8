// medr1-fuzz: a fuzz driver over the parser and the sandboxed interpreter
// (FuzzTarget.swift). scripts/fuzz is the documented way to run it.
//
// Built by scripts/fuzz with `-sanitize=fuzzer -D MEDR1_LIBFUZZER`, main hands
// the command line to libFuzzer (coverage-guided; its own flags such as
// -max_total_time=, -timeout=, -rss_limit_mb=, a corpus directory).
// Built plainly (swift build; the test suite), it has two modes that need no
// libFuzzer:
//   medr1-fuzz replay FILE...              run each file as one input
//   medr1-fuzz mutate --runs N [--seed S] [--current PATH] FILE...
//       N inputs made by mutating and splicing the seed FILEs (deterministic
//       by seed), each run in turn; PATH holds the input being run, so after
//       a crash it is the crashing input.
// Either mode exits 0 when every input ran without crashing or hanging.

import Foundation

#if MEDR1_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// Inputs that loop until Ctrl-C are common; a short wait keeps the rate up.
FuzzTarget.interruptAfter = 0.25
FuzzTarget.startWatchdog()
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.run(bytes)
    return 0
})
#else

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("medr1-fuzz: \(message)\n".utf8))
    exit(64)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let mode = args.first else {
    fail("usage: medr1-fuzz replay FILE... | medr1-fuzz mutate --runs N [--seed S] [--current PATH] FILE...")
}
args.removeFirst()
FuzzTarget.hangAfter = 10
FuzzTarget.startWatchdog()

func readInput(_ path: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    return Array(data)
}

switch mode {
case "replay":
    for path in args {
        FuzzTarget.run(readInput(path))
        print("ok \(path)")
    }
case "mutate":
    var runs = 1000, seed: UInt64 = 1, current: String? = nil, seeds: [String] = []
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--runs": i += 1; runs = i < args.count ? Int(args[i]) ?? -1 : -1
        case "--seed": i += 1; seed = i < args.count ? UInt64(args[i]) ?? 1 : 1
        case "--current": i += 1; current = i < args.count ? args[i] : nil
        default: seeds.append(args[i])
        }
        i += 1
    }
    guard runs >= 0 else { fail("--runs needs a count") }
    guard !seeds.isEmpty else { fail("mutate needs seed files") }
    // Many inputs loop until Ctrl-C; a short wait keeps the run short.
    FuzzTarget.interruptAfter = 0.2
    FuzzTarget.hangAfter = 5
    var mutator = Mutator(seeds: seeds.map(readInput), seed: seed)
    var parsed = 0
    for _ in 0..<runs {
        let input = mutator.next()
        if let current { _ = FileManager.default.createFile(atPath: current, contents: Data(input)) }
        if FuzzTarget.run(input) { parsed += 1 }
    }
    if let current { try? FileManager.default.removeItem(atPath: current) }
    print("ran \(runs) inputs (\(parsed) whole scripts, the rest line by line) without a crash or hang")
default:
    fail("unknown mode '\(mode)' (replay or mutate)")
}
#endif
