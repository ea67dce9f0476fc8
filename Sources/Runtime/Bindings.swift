// The MedR1Lib bindings: data, model, sampler, rewards, trainers, plots.

import Foundation
import MedR1Lib

enum Bindings {
    /// Apply session-wide settings to MedR1Lib (thread count).
    static func configure(threads: Int?) {}
}

extension Builtins {
    static func registerBindings(_ add: Register) {
        Bindings.registerData(add)
    }
}

struct DecodedImage {
    var png: Data?
    var pixels: [Float]
    var width: Int
    var height: Int
    var channels: Int
}

extension Bindings {
    /// The sample's image decoded for the terminal, plus its PNG bytes for notebooks.
    static func sampleImage(_ s: Sample) throws -> DecodedImage {
        throw RuntimeError("image decoding not available")
    }
}
