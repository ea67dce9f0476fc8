import XCTest
@testable import MedR1Lib

/// The memory-saving paths of the performance work: a no-grad
/// `tokenLogProbs` runs in row chunks, and the backward recomputes the
/// RMSNorm outputs instead of keeping them. Both must leave the numbers as
/// they were (the gradient tests of CoreModelTests cover the recompute).
final class PerfChunkTests: XCTestCase {
    override func tearDown() { MedR1Model.inferenceChunkPositions = 2048 }

    private func batch() -> (images: [[Float]], seqs: [[Int]], starts: [Int]) {
        let images = [CoreModelTests.image(1), CoreModelTests.image(2), CoreModelTests.image(1), CoreModelTests.image(3),
                      CoreModelTests.image(2)]
        let seqs = [[1, 5, 9, 3, 39, 0], [7, 7, 2, 11], [4, 8, 15], [1, 2, 3, 4, 5, 6, 7, 8], [9, 9]]
        return (images, seqs, [2, 0, 1, 3, 1])
    }

    /// Rows of 4 image + 6, 4, 3, 8, 2 text positions, a chunk closed once it
    /// reaches 10 positions: [0], [1, 2], [3], [4] -> the same log-probs and entropies as one pass
    /// (tolerance: float32 reordering inside sgemm only; measured 0 here).
    func testChunkedInferenceMatchesOnePass() throws {
        let m = try MedR1Model(config: CoreModelTests.tiny, seed: 5)
        let b = batch()
        // No two rows share image and prefix: five groups of one, 4 image + 6, 4, 3, 8, 2 positions.
        let plan = PrefixPlan(images: b.images, sequences: b.seqs, targetStart: b.starts, nPatches: 4)
        XCTAssertEqual(plan.groups, [[0], [1], [2], [3], [4]])
        XCTAssertEqual(plan.positions, [10, 8, 7, 12, 6])
        XCTAssertEqual(m.inferenceChunks(plan.positions), [0..<5])  // 43 positions: one chunk at the default 2048
        let whole = try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, temperature: 0.8,
                                        withGrad: false, entropy: true)
        MedR1Model.inferenceChunkPositions = 10
        XCTAssertEqual(m.inferenceChunks(plan.positions), [0..<1, 1..<3, 3..<4, 4..<5])
        let chunked = try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, temperature: 0.8,
                                          withGrad: false, entropy: true)
        XCTAssertEqual(chunked.logProbs.map(\.count), [4, 4, 2, 5, 1])
        XCTAssertLessThan(CoreTest.relativeError(chunked.logProbs.flatMap { $0 }, whole.logProbs.flatMap { $0 }), 1e-6)
        XCTAssertLessThan(CoreTest.relativeError(chunked.entropy.flatMap { $0 }, whole.entropy.flatMap { $0 }), 1e-6)
        // With grad nothing is chunked, and the values agree too.
        let graded = try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts, temperature: 0.8,
                                         withGrad: true)
        XCTAssertLessThan(CoreTest.relativeError(graded.logProbs.flatMap { $0 }, whole.logProbs.flatMap { $0 }), 1e-6)
    }

    /// An error in a later chunk names the row's index in the whole batch.
    func testChunkedInferenceErrorNamesTheBatchRow() throws {
        let m = try MedR1Model(config: CoreModelTests.tiny, seed: 5)
        var b = batch()
        b.seqs[3][2] = 40
        MedR1Model.inferenceChunkPositions = 10
        XCTAssertThrowsError(try m.tokenLogProbs(images: b.images, sequences: b.seqs, targetStart: b.starts,
                                                 withGrad: false)) { error in
            XCTAssertEqual(error as? ModelError, ModelError("row 3, token 2: id 40 is outside the vocabulary 0..<40"))
        }
    }
}
