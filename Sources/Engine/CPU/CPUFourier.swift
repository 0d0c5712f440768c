import CKissFFT
import Foundation

/// A KissFFT plan for one length: the real-input transform when the length is even (what
/// kiss_fftr supports), the complex one with zero imaginary parts otherwise.
final class FourierPlan {
    let length: Int
    private let real: kiss_fftr_cfg?
    private let complex: kiss_fft_cfg?
    private var input: [kiss_fft_cpx]
    private var output: [kiss_fft_cpx]

    init(length: Int) throws {
        self.length = length
        if length % 2 == 0 {
            real = kiss_fftr_alloc(Int32(length), 0, nil, nil)
            complex = nil
            guard real != nil else { throw EngineError.fourierPlan(length: length) }
        } else {
            complex = kiss_fft_alloc(Int32(length), 0, nil, nil)
            real = nil
            guard complex != nil else { throw EngineError.fourierPlan(length: length) }
        }
        input = [kiss_fft_cpx](repeating: kiss_fft_cpx(r: 0, i: 0), count: length)
        output = [kiss_fft_cpx](repeating: kiss_fft_cpx(r: 0, i: 0), count: length)
    }

    deinit {
        // kiss_fftr_free and kiss_fft_free are macros for free().
        if let real { free(UnsafeMutableRawPointer(real)) }
        if let complex { free(UnsafeMutableRawPointer(complex)) }
    }

    /// Writes the leading length/2 coefficients of `row` to `target` as [real | imaginary].
    func leadingHalf(_ row: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        let half = length / 2
        if let real {
            kiss_fftr(real, row, &output)
        } else if let complex {
            for i in 0 ..< length { input[i] = kiss_fft_cpx(r: row[i], i: 0) }
            kiss_fft(complex, input, &output)
        }
        for k in 0 ..< half {
            target[k] = output[k].r
            target[half + k] = output[k].i
        }
    }
}

extension CPUBackend {
    func fourierHalf(x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, length: Int) throws {
        let plan: FourierPlan
        if let cached = fourierPlans[length] { plan = cached } else {
            plan = try FourierPlan(length: length)
            fourierPlans[length] = plan
        }
        let width = 2 * (length / 2)
        for r in 0 ..< rows { plan.leadingHalf(x + r * length, into: y + r * width) }
    }
}
