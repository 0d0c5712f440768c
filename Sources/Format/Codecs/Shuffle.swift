/// Byte planes: element i's byte b goes to plane b, position i.
///
/// For IEEE floats the element is first rotated left by one bit, so the sign moves to
/// the bottom and the exponent fills the top byte on its own. On trained weights the
/// exponent is the only redundant part (about 2.7 bits of entropy in 8), so giving it a
/// plane of its own lets zstd find it and leaves the mantissa planes to be stored raw.
enum Shuffle {
    static func split(_ source: UnsafeRawBufferPointer, into planes: UnsafeMutableRawBufferPointer, width: Int, rotateSign: Bool) {
        let count = source.count / width
        guard count > 0, let src = source.baseAddress, let dst = planes.baseAddress else { return }
        let out = dst.assumingMemoryBound(to: UInt8.self)
        switch (width, rotateSign) {
        case (4, _):
            let words = src.assumingMemoryBound(to: UInt32.self)
            let p0 = out, p1 = out + count, p2 = out + 2 * count, p3 = out + 3 * count
            for i in 0..<count {
                var w = UInt32(littleEndian: words[i])
                if rotateSign { w = (w << 1) | (w >> 31) }
                p0[i] = UInt8(truncatingIfNeeded: w)
                p1[i] = UInt8(truncatingIfNeeded: w >> 8)
                p2[i] = UInt8(truncatingIfNeeded: w >> 16)
                p3[i] = UInt8(truncatingIfNeeded: w >> 24)
            }
        case (2, _):
            let halves = src.assumingMemoryBound(to: UInt16.self)
            let p0 = out, p1 = out + count
            for i in 0..<count {
                var h = UInt16(littleEndian: halves[i])
                if rotateSign { h = (h << 1) | (h >> 15) }
                p0[i] = UInt8(truncatingIfNeeded: h)
                p1[i] = UInt8(truncatingIfNeeded: h >> 8)
            }
        case (8, _):
            let words = src.assumingMemoryBound(to: UInt64.self)
            for i in 0..<count {
                var w = UInt64(littleEndian: words[i])
                if rotateSign { w = (w << 1) | (w >> 63) }
                for b in 0..<8 { out[b * count + i] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(b))) }
            }
        default:
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count {
                for b in 0..<width { out[b * count + i] = bytes[i * width + b] }
            }
        }
    }

    /// Inverse of `split`. `planeAt(b)` gives plane b (each `destination.count / width` bytes).
    static func join(planes planeAt: (Int) -> UnsafePointer<UInt8>, into destination: UnsafeMutableRawBufferPointer, width: Int, rotateSign: Bool) {
        let count = destination.count / width
        guard count > 0, let dst = destination.baseAddress else { return }
        switch width {
        case 4:
            let words = dst.assumingMemoryBound(to: UInt32.self)
            let p0 = planeAt(0), p1 = planeAt(1), p2 = planeAt(2), p3 = planeAt(3)
            if rotateSign {
                for i in 0..<count {
                    let w = UInt32(p0[i]) | UInt32(p1[i]) << 8 | UInt32(p2[i]) << 16 | UInt32(p3[i]) << 24
                    words[i] = ((w >> 1) | (w << 31)).littleEndian
                }
            } else {
                for i in 0..<count {
                    words[i] = (UInt32(p0[i]) | UInt32(p1[i]) << 8 | UInt32(p2[i]) << 16 | UInt32(p3[i]) << 24).littleEndian
                }
            }
        case 2:
            let halves = dst.assumingMemoryBound(to: UInt16.self)
            let p0 = planeAt(0), p1 = planeAt(1)
            for i in 0..<count {
                var h = UInt16(p0[i]) | UInt16(p1[i]) << 8
                if rotateSign { h = (h >> 1) | (h << 15) }
                halves[i] = h.littleEndian
            }
        case 8:
            let words = dst.assumingMemoryBound(to: UInt64.self)
            let planes = (0..<8).map(planeAt)
            for i in 0..<count {
                var w: UInt64 = 0
                for b in 0..<8 { w |= UInt64(planes[b][i]) << (8 * UInt64(b)) }
                if rotateSign { w = (w >> 1) | (w << 63) }
                words[i] = w.littleEndian
            }
        default:
            let bytes = dst.assumingMemoryBound(to: UInt8.self)
            for b in 0..<width {
                let plane = planeAt(b)
                for i in 0..<count { bytes[i * width + b] = plane[i] }
            }
        }
    }
}
