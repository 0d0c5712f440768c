/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011), the counter-based generator of Random123, cuRAND and PyTorch's CUDA kernels.
/// Output block = philox(counter, key): only 32-bit integer multiplies, adds and xors, so
/// every machine gives the same bits. Checked against Random123's known-answer vectors.
public enum Philox4x32 {
    static let multipliers: (UInt32, UInt32) = (0xD251_1F53, 0xCD9E_8D57)
    static let weyl: (UInt32, UInt32) = (0x9E37_79B9, 0xBB67_AE85)

    /// The ten-round block function.
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for round in 0 ..< 10 {
            if round > 0 {
                k.0 &+= weyl.0
                k.1 &+= weyl.1
            }
            let product0 = UInt64(multipliers.0) * UInt64(c.0)
            let product1 = UInt64(multipliers.1) * UInt64(c.2)
            c = (UInt32(truncatingIfNeeded: product1 >> 32) ^ c.1 ^ k.0, UInt32(truncatingIfNeeded: product1),
                 UInt32(truncatingIfNeeded: product0 >> 32) ^ c.3 ^ k.1, UInt32(truncatingIfNeeded: product0))
        }
        return c
    }
}

/// An endless stream of random words for one tensor: key = the seed, counter = (block
/// index, stream id). Streams of different ids never overlap, so each tensor's values
/// depend only on the seed, its name and its initialiser, never on the other tensors.
public struct RandomStream {
    private let key: (UInt32, UInt32)
    private let stream: UInt64
    private var blockIndex: UInt64 = 0
    private var words: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(seed: UInt64, stream: UInt64) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        self.stream = stream
    }

    /// The stream of the tensor called `name`: its id is the FNV-1a 64-bit hash of the UTF-8 name.
    public init(seed: UInt64, name: String) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        self.init(seed: seed, stream: hash)
    }

    public mutating func nextWord() -> UInt32 {
        if used == 4 {
            words = Philox4x32.block(counter: (UInt32(truncatingIfNeeded: blockIndex), UInt32(truncatingIfNeeded: blockIndex >> 32),
                                               UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)), key: key)
            blockIndex &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    /// A double uniform on [0, 1) with 53 random bits (27 + 26 bits of two words, as genrand_res53).
    public mutating func nextUnit() -> Double {
        let high = Double(nextWord() >> 5)
        let low = Double(nextWord() >> 6)
        return (high * 67_108_864 + low) * (1.0 / 9_007_199_254_740_992)
    }

    /// A standard normal by Marsaglia's polar method, which needs only a logarithm
    /// (`PortableMath.log`) and a square root, both the same on every machine.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = 2 * nextUnit() - 1
            let v = 2 * nextUnit() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let factor = (-2 * PortableMath.log(s) / s).squareRoot()
            spareNormal = v * factor
            return u * factor
        }
    }

    private var spareNormal: Double?
}
