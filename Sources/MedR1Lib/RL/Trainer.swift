// What every trainer offers, whatever it optimises: SFTTrainer and GRPOTrainer adopt
// `Trainer`, so a caller (the language's bindings, a tool, a test) steps, inspects,
// changes, saves and resumes either one through the same calls. The step loop with
// its stop and progress hooks lives here once.
import Foundation

/// A trainer's settings: the optimiser's, a seed, and an option table (OptionRules.swift)
/// that names, checks and reads each setting.
public protocol TrainerConfig: OptimizerSettings, Codable, Sendable, Equatable {
    static var optionRules: [OptionRule<Self>] { get }
    var seed: UInt64 { get }
}

extension GRPOConfig: TrainerConfig {}
extension SFTConfig: TrainerConfig {}

/// A trainer of `model` on `dataset`: one step at a time, with its metrics history.
public protocol Trainer: AnyObject {
    associatedtype Config: TrainerConfig
    /// "grpo" or "sft", as in the metrics and the saved state.
    var mode: String { get }
    /// The policy, trained in place.
    var model: MedR1Model { get }
    var dataset: Dataset { get }
    var encoder: ExampleEncoder { get }
    var optimizer: AdamW { get }
    var config: Config { get }
    /// Trainer steps done.
    var stepCount: Int { get }
    /// Every step's metrics (and the metrics file, when one was given).
    var history: MetricsHistory { get }
    /// Polled between the shards of a step's training pass; true abandons the step, which
    /// then throws `RLError.aborted` and changes nothing (a second Ctrl-C).
    var abortStep: () -> Bool { get set }
    /// Changes settings between steps; throws `RLError.invalidOption` (changing nothing)
    /// for a setting out of range.
    func update(_ change: (inout Config) -> Void) throws
    /// One step; a step that fails changes nothing (see each trainer).
    @discardableResult func step() throws -> StepMetrics
    /// Writes the whole state as the folder `dir` (TrainerState.swift).
    func save(to dir: URL) throws
}

/// What a training loop tells its caller and asks it.
public struct TrainingHooks {
    /// Polled before every step; true stops the loop there (e.g. on Ctrl-C).
    public var shouldStop: () -> Bool
    /// Called after every step with its metrics (record them, print a line); an error
    /// thrown here ends the loop and is rethrown.
    public var onStep: (StepMetrics) throws -> Void
    /// Called after every step with the steps done and the steps asked for.
    public var progress: (_ done: Int, _ total: Int) -> Void
    /// Polled during a step (the trainer's `abortStep` while the loop runs); true abandons
    /// the step in flight, leaving the trainer as before it.
    public var shouldAbort: () -> Bool

    public init(shouldStop: @escaping () -> Bool = { false }, onStep: @escaping (StepMetrics) throws -> Void = { _ in },
                progress: @escaping (_ done: Int, _ total: Int) -> Void = { _, _ in },
                shouldAbort: @escaping () -> Bool = { false }) {
        self.shouldStop = shouldStop
        self.onStep = onStep
        self.progress = progress
        self.shouldAbort = shouldAbort
    }
}

extension Trainer {
    /// Up to `steps` steps, stopping early when `hooks.shouldStop()` turns true. Returns the
    /// steps done; a step that throws ends the loop with its error (the steps before it stay done).
    @discardableResult
    public func train(steps: Int, hooks: TrainingHooks = TrainingHooks()) throws -> [StepMetrics] {
        var done: [StepMetrics] = []
        let before = abortStep
        abortStep = hooks.shouldAbort
        defer { abortStep = before }
        for _ in 0..<max(steps, 0) {
            if hooks.shouldStop() { break }
            let m = try step()
            done.append(m)
            try hooks.onStep(m)
            hooks.progress(done.count, steps)
        }
        return done
    }

    /// Every setting by its keyword, in the option table's order.
    public var options: [(keyword: String, value: OptionValue)] { Config.optionRules.values(in: config) }

    /// Sets the options given by keyword, each checked against its row (errors name `owner`).
    public func set(options given: [String: OptionValue], owner: String) throws {
        var c = config
        try Config.optionRules.apply(given, to: &c, owner: owner)
        try update { $0 = c }
    }
}
