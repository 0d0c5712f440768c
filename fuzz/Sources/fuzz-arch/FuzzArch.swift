import Engine
import Foundation
import Format
import FuzzSupport

// An architecture document (spec/ARCH.md) as `ckpt arch`, `ckpt new` and `ckpt run` use it:
// parse, print with shapes, serialise (which must parse back to the same document), list
// the tensors it needs, and, when those are small, initialise them (`ckpt new`), build the
// network and its plan (PlanBuilder through `Network.plan`) and run one forward pass on
// zeros of the document's input shape when that input is small too.

/// At most this many parameter and buffer elements are initialised, and at most
/// `inputLimit` input elements run, so one input costs milliseconds.
let parameterLimit = 1 << 16, inputLimit = 1 << 12

/// The product of `sizes`, or nil when it overflows or passes `limit`.
func checkedProduct(_ sizes: [Int], limit: Int) -> Int? {
    var product = 1
    for size in sizes {
        guard size >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: size)
        guard !overflow, next <= limit else { return nil }
        product = next
    }
    return product
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let document = try ArchitectureDocument.parse(Data(fuzzInput(data, size)))
        let serialized = document.serialized()
        do {
            let reparsed = try ArchitectureDocument.parse(serialized)
            expect(reparsed == document, "serialized document parses to another document")
        } catch {
            expect(false, "serialized document does not parse: \(error)")
        }
        _ = try ArchitecturePrinter.render(document, inputShape: document.inputShape)
        let resolved = try document.inputShape.map { try document.resolved(inputShape: $0) } ?? document
        var elements = 0
        for spec in try resolved.tree().tensorSpecs() {
            guard let count = checkedProduct(spec.shape, limit: parameterLimit) else { return 0 }
            elements += count
            guard elements <= parameterLimit else { return 0 }
        }
        let checkpoint = try Initialization.checkpoint(for: document)
        let network = try Network(checkpoint: checkpoint, backend: CPUBackend(threads: 1))
        if let shape = network.document.inputShape, let count = checkedProduct(shape, limit: inputLimit), count > 0 {
            let input = try Tensor(dtype: .f32, shape: shape, data: Data(count: count * 4))
            _ = try network.run(input)
        }
    } catch {
        _ = "\(error)"
    }
    return 0
}
