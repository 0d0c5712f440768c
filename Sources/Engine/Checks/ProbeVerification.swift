import Foundation
import Format

/// How one output of a probe compares with its reference.
public struct ProbeOutputReport: Sendable {
    public var index: Int
    public var expectedShape: [Int]
    public var actualShape: [Int]
    /// max |actual - expected|; infinity when shapes differ or only one side is NaN.
    public var maxAbsoluteError: Double
    /// max |actual - expected| / |expected| over the elements whose expected value is not zero.
    public var maxRelativeError: Double
    /// Every element within atol + rtol·|expected| (numpy's allclose; NaN matches only NaN).
    public var passed: Bool
}

/// One probe run on the engine.
public struct ProbeReport: Sendable {
    public var name: String
    public var origin: Probe.Origin
    public var rtol: Double
    public var atol: Double
    public var outputs: [ProbeOutputReport]
    public var passed: Bool { outputs.allSatisfy(\.passed) }
}

/// Runs every probe of `checkpoint` through the engine (CPU unless told otherwise) and
/// compares each output with the stored one. Throws when the network cannot run at all
/// (no document, an Opaque module, tensors that do not fit).
public func verifyProbes(of checkpoint: Checkpoint, backend: Backend = CPUBackend()) throws -> [ProbeReport] {
    guard !checkpoint.probes.isEmpty else { return [] }
    let network = try Network(checkpoint: checkpoint, backend: backend)
    return try checkpoint.probes.map { try verifyProbe($0, on: network).report }
}

/// Runs one probe on `network`: its report, and the output the network gave (kept so that
/// devices can be compared with each other without running the probe twice).
public func verifyProbe(_ probe: Probe, on network: Network) throws -> (report: ProbeReport, output: Tensor) {
    guard probe.inputs.count == 1, probe.outputs.count == 1 else {
        throw EngineError.probeArity(probe: probe.name, inputs: probe.inputs.count, outputs: probe.outputs.count)
    }
    let actual = try network.run(probe.inputs[0])
    let report = try compareOutput(actual, expected: probe.outputs[0], index: 0, rtol: probe.rtol, atol: probe.atol)
    return (ProbeReport(name: probe.name, origin: probe.origin, rtol: probe.rtol, atol: probe.atol, outputs: [report]), actual)
}

/// Compares two tensors element by element as `verifyProbes` does.
public func compareOutput(_ actual: Tensor, expected: Tensor, index: Int = 0, rtol: Double, atol: Double) throws -> ProbeOutputReport {
    guard actual.shape == expected.shape else {
        return ProbeOutputReport(index: index, expectedShape: expected.shape, actualShape: actual.shape,
                                 maxAbsoluteError: .infinity, maxRelativeError: .infinity, passed: false)
    }
    let a = try FloatConversion.floats(actual)
    let b = try FloatConversion.floats(expected)
    var maxAbs = 0.0, maxRel = 0.0
    var passed = true
    for i in 0 ..< a.count {
        let x = Double(a[i]), y = Double(b[i])
        if x.isNaN || y.isNaN {
            if !(x.isNaN && y.isNaN) { maxAbs = .infinity; passed = false }
            continue
        }
        if x == y { continue } // equal infinities too
        let difference = abs(x - y)
        maxAbs = max(maxAbs, difference)
        if y != 0 { maxRel = max(maxRel, difference / abs(y)) }
        if !(difference <= atol + rtol * abs(y)) { passed = false }
    }
    return ProbeOutputReport(index: index, expectedShape: expected.shape, actualShape: actual.shape,
                             maxAbsoluteError: maxAbs, maxRelativeError: maxRel, passed: passed)
}
