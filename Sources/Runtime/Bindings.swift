// The MedR1Lib bindings: data, model, sampler, rewards, trainers, plots.

import Foundation

enum Bindings {
    /// Apply session-wide settings to MedR1Lib (thread count).
    static func configure(threads: Int?) {}
}

extension Builtins {
    static func registerBindings(_ add: Register) {
    }
}
