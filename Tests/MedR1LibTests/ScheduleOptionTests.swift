import XCTest
@testable import MedR1Lib

/// transformers' schedules and their options: linear decay, warmup_ratio, and min_lr
/// (absolute) beside min_lr_rate (a fraction of lr), as get_linear_schedule_with_warmup,
/// TrainingArguments.get_warmup_steps and get_cosine_with_min_lr_schedule_with_warmup define them.
final class ScheduleOptionTests: XCTestCase {
    func apply(_ given: [String: OptionValue], to c: GRPOConfig = GRPOConfig()) throws -> GRPOConfig {
        var c = c
        try GRPOConfig.optionRules.apply(given, to: &c, owner: "grpo")
        return c
    }

    /// Linear: after warm-up, max(0, (total - step) / (total - warmup)); warm-up as medr1's
    /// other schedules, (step + 1) / warmup.
    func testLinearDecay() {
        let s = LRSchedule.linear(warmup: 2, total: 12)
        XCTAssertEqual([0, 1, 2, 7, 11, 12, 20].map { s.factor(step: $0) }, [0.5, 1, 1, 0.5, 0.1, 0, 0])
        XCTAssertEqual(s.lr(step: 7, base: 2e-3), 1e-3)
        XCTAssertEqual(LRSchedule.linear(warmup: 0, total: 4).factor(step: 1), 0.75)
    }

    func testScheduleOptions() throws {
        // schedule "linear" over steps: 12 with warmup_ratio 0.1: ceil(1.2) = 2 warm-up steps.
        var c = try apply(["schedule": .word("linear"), "steps": .number(12), "warmup_ratio": .number(0.1)])
        XCTAssertEqual(c.schedule, .linear(warmup: 2, total: 12))
        // transformers' names: lr_scheduler_type "cosine_with_min_lr" with min_lr 1e-5 at lr 1e-4:
        // min_lr_rate = 1e-5 / 1e-4 = 0.1.
        c = try apply(["schedule": .word("cosine_with_min_lr"), "steps": .number(10), "min_lr": .number(1e-5)])
        XCTAssertEqual(c.schedule, .cosine(warmup: 0, total: 10, minFactor: 0.1))
        XCTAssertEqual(GRPOConfig.optionRules.rule("min_lr")!.value(in: c), 1e-5)
        XCTAssertEqual(GRPOConfig.optionRules.rule("min_lr_rate")!.value(in: c), 0.1)
        // With lr given in the same call, min_lr is taken against that lr: 1e-5 / 2e-4 = 0.05.
        c = try apply(["lr": .number(2e-4), "schedule": .word("cosine"), "steps": .number(10), "min_lr": .number(1e-5)])
        XCTAssertEqual(c.schedule, .cosine(warmup: 0, total: 10, minFactor: 0.05))
        c = try apply(["schedule": .word("cosine"), "steps": .number(10), "min_lr_rate": .number(0.2)])
        XCTAssertEqual(c.schedule, .cosine(warmup: 0, total: 10, minFactor: 0.2))
        c = try apply(["schedule": .word("constant_with_warmup"), "warmup": .number(3)])
        XCTAssertEqual(c.schedule, .warmup(steps: 3))
        // A linear schedule keeps its parts when only one changes.
        c = try apply(["schedule": .word("linear"), "steps": .number(12)])
        c = try apply(["warmup": .number(4)], to: c)
        XCTAssertEqual(c.schedule, .linear(warmup: 4, total: 12))
    }

    func testScheduleOptionErrors() throws {
        func message(_ given: [String: OptionValue]) -> String {
            do { _ = try apply(given); return "no error" } catch { return "\(error)" }
        }
        // min_lr is absolute now: the old fraction meaning is caught when it exceeds lr.
        XCTAssertEqual(message(["schedule": .word("cosine"), "steps": .number(10), "min_lr": .number(0.1)]),
                       "grpo: min_lr: is the absolute floor and must be at most lr (0.0001), got 0.1; for a fraction of lr use min_lr_rate:")
        XCTAssertEqual(message(["schedule": .word("cosine"), "steps": .number(10), "min_lr": .number(1e-5), "min_lr_rate": .number(0.1)]),
                       "grpo: give min_lr: (absolute) or min_lr_rate: (a fraction of lr), not both")
        XCTAssertEqual(message(["schedule": .word("warmup"), "warmup_ratio": .number(0.1)]),
                       "grpo: warmup_ratio: needs steps:, the schedule's horizon, to count the warm-up steps")
        XCTAssertEqual(message(["schedule": .word("linear"), "steps": .number(10), "warmup": .number(2), "warmup_ratio": .number(0.1)]),
                       "grpo: give warmup: or warmup_ratio:, not both")
        XCTAssertEqual(message(["schedule": .word("linear")]),
                       "grpo: schedule \"linear\" needs steps: the number of steps to decay over (e.g. steps: 200)")
    }
}
