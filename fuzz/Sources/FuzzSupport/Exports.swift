import Foundation
import Format

/// What `ckpt export` does with a checkpoint that was read: write it as safetensors, as a
/// torch state_dict and as npz. The first two are read back and must hold the same
/// tensors. Exporters may refuse (a dtype the format lacks), never trap; only checkpoints
/// of at most `limit` bytes are exported, so a run stays fast.
public func checkExports(_ checkpoint: Checkpoint, limit: Int = 1 << 20) {
    guard totalBytes(checkpoint) <= limit else { return }
    if let encoded = try? Safetensors.encode(checkpoint) {
        do {
            expectSameTensors(checkpoint, try Safetensors.read(data: encoded), "safetensors export read back")
        } catch {
            expect(false, "safetensors export cannot be read back: \(error)")
        }
    }
    if let encoded = try? TorchFile.encode(checkpoint) {
        do {
            expectSameTensors(checkpoint, try TorchFile.read(data: encoded), "torch export read back")
        } catch {
            expect(false, "torch export cannot be read back: \(error)")
        }
    }
    _ = try? Npz.encode(checkpoint)
}
