/// An order-0 range asymmetric numeral system coder over bytes (FORMAT.md, "rANS stream").
///
/// Four interleaved 32-bit states share one stream of 16-bit words: symbol i belongs to
/// state i mod 4, so the four decodes of a group are independent and overlap in the
/// pipeline. With 12-bit frequencies and 16-bit renormalisation a state needs at most one
/// word per symbol, which lets the decoder check its input once per group of four.
///
/// Why rANS and not zstd on the exponent plane: the plane is a memoryless source of about
/// 2.6 bits per byte; an LZ stage finds nothing, and zstd's Huffman literals lose to the
/// order-0 bound what a 12-bit rANS table keeps.
enum Rans {
    static let precision: UInt32 = 12
    static let total = 1 << 12
    /// A state lies in [lower, 2^32) between symbols; encoder and decoder start and end there.
    static let lower: UInt32 = 1 << 16
    static let lanes = 4
    /// The four states at the head of a stream.
    static let headerSize = 16

    /// Largest stream `encode` writes for `count` symbols: the states and one word per symbol.
    static func bound(_ count: Int) -> Int { headerSize + 2 * count }

    /// Encodes `count` symbols with `table` (which must give every symbol that occurs a
    /// non-zero frequency) into `out`, at least `bound(count)` bytes; returns the length.
    static func encode(_ symbols: UnsafePointer<UInt8>, count: Int, table: RansTable, into out: UnsafeMutablePointer<UInt8>) -> Int {
        // Per symbol: the division x / f done as a multiplication by a 64-bit reciprocal
        // (Lemire, Kaser and Kurz 2019: high64(ceil(2^64 / f) * x) == x / f for every
        // 32-bit x), which is what made encoding slow: a 32-bit division per byte. f = 1
        // uses 2^64 - 1 (giving x - 1) with the bias raised by 4095 to match (ryg_rans).
        let frequencies = table.frequencies, starts = table.starts
        let reciprocal = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        let packed = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * 256)
        defer { reciprocal.deallocate(); packed.deallocate() }
        for s in 0..<256 {
            let f = frequencies[s]
            reciprocal[s] = f <= 1 ? UInt64.max : UInt64.max / UInt64(f) + 1
            packed[2 * s] = f
            packed[2 * s + 1] = starts[s] + (f == 1 ? UInt32(total - 1) : 0)
        }
        // Words are produced last-first; they are written backwards from the end of a
        // scratch area, then moved up behind the states.
        let words = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        defer { words.deallocate() }
        var w = count
        var x0 = lower, x1 = lower, x2 = lower, x3 = lower

        @inline(__always) func put(_ x: inout UInt32, _ symbol: UInt8) {
            let s = Int(symbol)
            let f = packed[2 * s]
            // Renormalise so that x < f << 20 (written as a shift so that f = 4096, a
            // one-symbol plane, never emits).
            // Branch-free: the low word is always stored below the cursor, which moves
            // only when the state renormalises (a branch mispredicted about one symbol in
            // six). Safe: after k symbols at most k words were emitted, so w >= 1 here.
            let emit = x >> 20 >= f
            words[w &- 1] = UInt16(truncatingIfNeeded: x).littleEndian
            w &-= emit ? 1 : 0
            x = emit ? x >> 16 : x
            // x' = (q << 12) + (x - q f) + c, written as x + bias + q (4096 - f).
            let q = UInt32(truncatingIfNeeded: reciprocal[s].multipliedFullWidth(by: UInt64(x)).high)
            x = x &+ packed[2 * s + 1] &+ q &* (UInt32(total) &- f)
        }
        // Symbols are coded last-first so that the decoder reads forwards: first the
        // incomplete last group, then whole groups of four.
        var i = count
        while i & 3 != 0 {
            i -= 1
            switch i & 3 {
            case 0: put(&x0, symbols[i])
            case 1: put(&x1, symbols[i])
            case 2: put(&x2, symbols[i])
            default: put(&x3, symbols[i])
            }
        }
        while i > 0 {
            i -= 4
            put(&x3, symbols[i + 3])
            put(&x2, symbols[i + 2])
            put(&x1, symbols[i + 1])
            put(&x0, symbols[i])
        }
        let state = (x0, x1, x2, x3)
        let raw = UnsafeMutableRawPointer(out)
        raw.storeBytes(of: state.0.littleEndian, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: state.1.littleEndian, toByteOffset: 4, as: UInt32.self)
        raw.storeBytes(of: state.2.littleEndian, toByteOffset: 8, as: UInt32.self)
        raw.storeBytes(of: state.3.littleEndian, toByteOffset: 12, as: UInt32.self)
        let wordCount = count - w
        (raw + headerSize).copyMemory(from: words + w, byteCount: 2 * wordCount)
        return headerSize + 2 * wordCount
    }

    /// The stream of a one-symbol table: the four states at their end value and no words,
    /// exactly what `decode` would accept for it.
    static func checkConstant(_ stream: UnsafeRawBufferPointer) throws {
        guard stream.count == headerSize else {
            throw FormatError(.invalidValue(field: "rANS stream length of a one-symbol plane", value: "\(stream.count)", expected: "\(headerSize)"))
        }
        for k in 0..<lanes where stream.loadLittleEndian(UInt32.self, at: 4 * k) != lower {
            throw FormatError(.malformed(what: "rANS stream", detail: "state \(k) does not end at 2^16"))
        }
    }

    /// Decodes exactly `count` symbols from `stream` with the slot table of a validated
    /// `RansTable`. Every read is bounds-checked (once per group of four while the stream
    /// has room for the group's words); the stream must be used up exactly and every
    /// state must end at `lower`, so a damaged stream is refused rather than misread.
    static func decode(_ stream: UnsafeRawBufferPointer, slots: UnsafePointer<UInt32>, symbols: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>) throws {
        guard stream.count >= headerSize, (stream.count - headerSize) % 2 == 0, let base = stream.baseAddress else {
            throw FormatError(.malformed(what: "rANS stream", detail: "\(stream.count) bytes are not 16 bytes of states and whole 16-bit words"))
        }
        var x0 = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        var x1 = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        var x2 = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        var x3 = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let words = base + headerSize
        let wordCount = (stream.count - headerSize) / 2
        var p = 0
        let mask = UInt32(total - 1)

        // Fast path: a group of four reads at most four words, so one check covers it.
        // Written out by hand: nested functions capturing the cursor kept it in memory.
        // Rounds: each runs as many groups as the words left could feed even if every
        // symbol read one, so a round never reads past the end; a stream that reads less
        // (exponents: one word per six symbols) gets further rounds.
        var i = 0
        while count - i >= 4 {
            let quads = min((count - i) / 4, (wordCount - p) / 4)
            if quads == 0 { break }
            var wp = (words + 2 * p).assumingMemoryBound(to: UInt16.self)
            var o = out + i
            let end = o + 4 * quads
            while o < end {
                let s0 = Int(x0 & mask), s1 = Int(x1 & mask), s2 = Int(x2 & mask), s3 = Int(x3 & mask)
                let e0 = slots[s0], e1 = slots[s1], e2 = slots[s2], e3 = slots[s3]
                o[0] = symbols[s0]; o[1] = symbols[s1]; o[2] = symbols[s2]; o[3] = symbols[s3]
                x0 = (e0 & 0xFFFF) &* (x0 >> precision) &+ (e0 >> 16)
                x1 = (e1 & 0xFFFF) &* (x1 >> precision) &+ (e1 >> 16)
                x2 = (e2 & 0xFFFF) &* (x2 >> precision) &+ (e2 >> 16)
                x3 = (e3 & 0xFFFF) &* (x3 >> precision) &+ (e3 >> 16)
                // Branch-free renormalisation: whether a state reads a word is data, not
                // control (a branch mispredicted on about one symbol in six).
                var w = UInt32(UInt16(littleEndian: UnsafeRawPointer(wp).loadUnaligned(as: UInt16.self)))
                var r = x0 < lower
                x0 = r ? x0 << 16 | w : x0; wp += r ? 1 : 0
                w = UInt32(UInt16(littleEndian: UnsafeRawPointer(wp).loadUnaligned(as: UInt16.self)))
                r = x1 < lower
                x1 = r ? x1 << 16 | w : x1; wp += r ? 1 : 0
                w = UInt32(UInt16(littleEndian: UnsafeRawPointer(wp).loadUnaligned(as: UInt16.self)))
                r = x2 < lower
                x2 = r ? x2 << 16 | w : x2; wp += r ? 1 : 0
                w = UInt32(UInt16(littleEndian: UnsafeRawPointer(wp).loadUnaligned(as: UInt16.self)))
                r = x3 < lower
                x3 = r ? x3 << 16 | w : x3; wp += r ? 1 : 0
                o += 4
            }
            i += 4 * quads
            p = (UnsafeRawPointer(wp) - words) / 2
        }
        @inline(__always) func step(_ x: inout UInt32) -> UInt8 {
            let slot = Int(x & mask)
            let e = slots[slot]
            x = (e & 0xFFFF) &* (x >> precision) &+ (e >> 16)
            return symbols[slot]
        }
        // Tail: one symbol at a time, every read checked.
        while i < count {
            let lane = i & 3
            var x: UInt32
            switch lane { case 0: x = x0; case 1: x = x1; case 2: x = x2; default: x = x3 }
            out[i] = step(&x)
            if x < lower {
                guard p < wordCount else { throw FormatError(.truncated(what: "rANS stream of \(count) symbols", needed: UInt64(2 * (p + 1)), available: UInt64(2 * wordCount))) }
                x = x << 16 | UInt32(UInt16(littleEndian: words.loadUnaligned(fromByteOffset: 2 * p, as: UInt16.self)))
                p += 1
            }
            switch lane { case 0: x0 = x; case 1: x1 = x; case 2: x2 = x; default: x3 = x }
            i += 1
        }
        guard p == wordCount, x0 == lower, x1 == lower, x2 == lower, x3 == lower else {
            throw FormatError(.malformed(what: "rANS stream", detail: "\(wordCount - p) words left over or a state not ending at 2^16"))
        }
    }
}
