// The MedR1Lib bindings: data, model, sampler, rewards, trainers, plots.

import Foundation

extension Builtins {
    static func registerBindings(_ add: Register) {
    }
}
