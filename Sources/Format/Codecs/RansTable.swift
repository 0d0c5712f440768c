import Foundation

/// A byte alphabet's frequencies scaled to sum to exactly `Rans.total` (2^12), each
/// symbol that occurs at least 1: the model one rANS stream is coded with.
///
/// On the wire (FORMAT.md, "rANS stream"): a 32-byte bitmap of the symbols present (bit
/// `s % 8` of byte `s / 8`), then one u16 per present symbol in ascending order, its
/// frequency. A reader refuses an empty bitmap, a zero or over-total frequency and a sum
/// other than the total, so every table it builds is a proper partition of the slots.
struct RansTable {
    /// Frequency of each byte value (0 for absent ones).
    var frequencies: [UInt32]

    static let bitmapSize = 32

    /// Scales a histogram (at least one non-zero count) to the total, keeping every
    /// present symbol at 1 or more; rounding error goes to the most frequent symbols.
    init(counts: UnsafePointer<Int>) {
        var sum = 0
        for s in 0..<256 { sum += counts[s] }
        precondition(sum > 0, "a rANS table needs at least one symbol")
        var frequencies = [UInt32](repeating: 0, count: 256)
        var assigned = 0
        for s in 0..<256 where counts[s] > 0 {
            // Scaled with rounding to nearest; counts[s] * 4096 cannot overflow (counts < 2^40).
            let scaled = max(1, (counts[s] * Rans.total + sum / 2) / sum)
            frequencies[s] = UInt32(scaled)
            assigned += scaled
        }
        // Hand out or take back the difference, one slot at a time, largest symbol first;
        // a symbol never drops below 1. Terminates: while assigned > total some symbol
        // has more than 1 (at most 256 symbols share 4096 slots).
        while assigned != Rans.total {
            var largest = 0
            for s in 1..<256 where frequencies[s] > frequencies[largest] { largest = s }
            if assigned < Rans.total {
                let add = Rans.total - assigned
                frequencies[largest] += UInt32(add)
                assigned += add
            } else {
                // Take from the largest as much as it can spare, or as much as is over.
                let spare = min(Int(frequencies[largest]) - 1, assigned - Rans.total, max(1, Int(frequencies[largest]) / 4))
                frequencies[largest] -= UInt32(spare)
                assigned -= spare
            }
        }
        self.frequencies = frequencies
    }

    private init(validated frequencies: [UInt32]) {
        self.frequencies = frequencies
    }

    /// The symbol that has all the slots, if one has.
    var soleSymbol: UInt8? {
        frequencies.firstIndex(of: UInt32(Rans.total)).map { UInt8($0) }
    }

    /// Bytes `serialize` appends.
    var serializedSize: Int { Self.bitmapSize + 2 * frequencies.lazy.filter { $0 > 0 }.count }

    /// Appends the table to `out` at `cursor`; returns the new cursor.
    func serialize(into out: UnsafeMutablePointer<UInt8>, at cursor: Int) -> Int {
        var cursor = cursor
        for byte in 0..<Self.bitmapSize {
            var bits: UInt8 = 0
            for bit in 0..<8 where frequencies[byte * 8 + bit] > 0 { bits |= 1 << UInt8(bit) }
            out[cursor + byte] = bits
        }
        cursor += Self.bitmapSize
        for s in 0..<256 where frequencies[s] > 0 {
            out[cursor] = UInt8(truncatingIfNeeded: frequencies[s])
            out[cursor + 1] = UInt8(truncatingIfNeeded: frequencies[s] >> 8)
            cursor += 2
        }
        return cursor
    }

    /// Reads a table from `bytes` at `cursor`, checking every field; returns it and the
    /// cursor past it.
    static func parse(_ bytes: UnsafeRawBufferPointer, at start: Int) throws -> (RansTable, Int) {
        guard start >= 0, bytes.count - start >= bitmapSize else {
            throw FormatError(.truncated(what: "rANS table bitmap", needed: UInt64(bitmapSize), available: UInt64(max(0, bytes.count - start))))
        }
        var present: [Int] = []
        for byte in 0..<bitmapSize {
            let bits = bytes[start + byte]
            for bit in 0..<8 where bits & (1 << UInt8(bit)) != 0 { present.append(byte * 8 + bit) }
        }
        guard !present.isEmpty else { throw FormatError(.malformed(what: "rANS table", detail: "the bitmap names no symbol")) }
        var cursor = start + bitmapSize
        guard bytes.count - cursor >= 2 * present.count else {
            throw FormatError(.truncated(what: "rANS table of \(present.count) frequencies", needed: UInt64(2 * present.count), available: UInt64(bytes.count - cursor)))
        }
        var frequencies = [UInt32](repeating: 0, count: 256)
        var sum = 0
        for s in present {
            let f = Int(bytes[cursor]) | Int(bytes[cursor + 1]) << 8
            cursor += 2
            guard f >= 1, f <= Rans.total else {
                throw FormatError(.invalidValue(field: "rANS frequency of symbol \(s)", value: "\(f)", expected: "1 to \(Rans.total)"))
            }
            sum += f
            frequencies[s] = UInt32(f)
        }
        guard sum == Rans.total else {
            throw FormatError(.invalidValue(field: "sum of rANS frequencies", value: "\(sum)", expected: "\(Rans.total)"))
        }
        return (RansTable(validated: frequencies), cursor)
    }

    /// Cumulative starts: `starts[s]` is the first slot of symbol s.
    var starts: [UInt32] {
        var starts = [UInt32](repeating: 0, count: 256)
        var running: UInt32 = 0
        for s in 0..<256 {
            starts[s] = running
            running += frequencies[s]
        }
        return starts
    }

    /// The decoder's slot tables: for each of the 4096 slots its symbol in `symbols`, and
    /// in `slots` one word packing the symbol's frequency (bits 0-15, 1 to 4096) and the
    /// slot's offset within the symbol's range (bits 16-31), so that a decode step is one
    /// mask, one multiply and one add after the loads (16 KiB + 4 KiB: both stay in L1).
    /// Valid only for a validated table (sum == total).
    func fillSlots(_ slots: UnsafeMutablePointer<UInt32>, symbols: UnsafeMutablePointer<UInt8>) {
        var slot = 0
        for s in 0..<256 {
            let f = Int(frequencies[s])
            guard f > 0 else { continue }
            for k in 0..<f {
                slots[slot + k] = UInt32(f) | UInt32(k) << 16
                symbols[slot + k] = UInt8(s)
            }
            slot += f
        }
    }

    /// Bits an order-0 coder needs for `counts` under this table (the real cost, not the
    /// entropy: scaling loses a little).
    func cost(of counts: UnsafePointer<Int>) -> Double {
        var bits = 0.0
        for s in 0..<256 where counts[s] > 0 {
            bits += Double(counts[s]) * (Double(Rans.precision) - log2(Double(frequencies[s])))
        }
        return bits
    }
}
