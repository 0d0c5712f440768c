import Foundation
import Format
import FuzzSupport

// A torch.export archive as `ckpt import m.pt2` reads it, or a graph document as a `.ckpt`'s
// architecture section holds it: a zip goes through `Pt2File.read` (zip, program JSON,
// signature, sympy sizes, weight views, sample-input pickle), anything else through
// `Architecture.parse`. Whatever parses must serialize to text that parses back to the same
// document, print as a module tree, and (for an archive) export as the other formats do.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPt2(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzInput(data, size))
    let architecture: Architecture
    if bytes.starts(with: [0x50, 0x4B]) {
        guard let checkpoint = try? Pt2File.read(data: bytes, budget: MemoryBudget(limit: 1 << 28)) else { return 0 }
        guard let carried = checkpoint.architecture else {
            expect(false, "an imported program carries no architecture")
            return 0
        }
        architecture = carried
        checkExports(checkpoint)
    } else {
        guard let parsed = try? Architecture.parse(bytes) else { return 0 }
        architecture = parsed
    }
    guard let graph = architecture.graph else { return 0 }
    do {
        let reparsed = try GraphDocument.parse(graph.serialized())
        // NaN arguments are the one value unequal to itself: compare the text then.
        expect(reparsed == graph || reparsed.serialized() == graph.serialized(), "a serialized graph parses to another graph")
    } catch {
        expect(false, "a serialized graph does not parse: \(error)")
    }
    _ = try? GraphPrinter.render(graph)
    return 0
}
