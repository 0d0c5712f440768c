import Foundation
import XCTest
@testable import Format

/// A real Lightning checkpoint (fixtures/lightning, written by `Trainer.save_checkpoint`
/// with OmegaConf hyper-parameters and an Enum): its tensors come through, equal to the
/// state_dict torch itself wrote as safetensors beside it.
final class LightningFixtureTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/lightning")

    func testARealLightningCheckpointWithOmegaConfHparamsImports() throws {
        let truth = try Safetensors.read(contentsOf: Self.folder.appendingPathComponent("state_dict.safetensors"))
        let file = Self.folder.appendingPathComponent("lightning.ckpt.pt")
        let selected = try TorchFile.read(contentsOf: file, key: "state_dict")
        XCTAssertEqual(selected.tensors.map(\.name).sorted(), truth.tensors.map(\.name).sorted())
        for named in truth.tensors {
            let got = try XCTUnwrap(selected.tensor(named: named.name), named.name)
            XCTAssertEqual(got.shape, named.tensor.shape, named.name)
            XCTAssertEqual(got.data, named.tensor.data, named.name)
        }
        // Whole: the optimizer's moments come too, and the hyper-parameters are inert data.
        let whole = try TorchFile.read(contentsOf: file)
        XCTAssertNotNil(whole.tensor(named: "optimizer_states.0.state.0.exp_avg"))
        XCTAssertNotNil(whole.tensor(named: "state_dict.body.0.weight"))
    }
}
