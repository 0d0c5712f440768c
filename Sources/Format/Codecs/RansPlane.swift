/// One byte plane as a rANS payload: its `RansTable`, then its `Rans` stream
/// (FORMAT.md, "shuffle-ans", plane mode 2).
enum RansPlane {
    /// Largest payload for a plane of `n` bytes: the biggest table and the stream bound.
    static func bound(_ n: Int) -> Int { RansTable.bitmapSize + 2 * 256 + Rans.bound(n) }

    /// Encodes `plane` into `target` (at least `bound(plane.count)` bytes) and returns the
    /// payload length, or nil without encoding when the histogram shows that the payload
    /// would not save 1/64 of the plane (a near-random mantissa plane costs one pass).
    static func encode(_ plane: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) -> Int? {
        guard let source = plane.baseAddress?.assumingMemoryBound(to: UInt8.self), let out = target.baseAddress else { return nil }
        let n = plane.count
        // A large plane is first judged by a 64 KiB sample from its middle: a mantissa
        // plane of trained weights is near-random, and one sample pass spares it the
        // whole histogram. (The sample's entropy underestimates by ~0.003 bits.)
        if n >= 4 * sampleSize {
            let start = n / 2
            guard estimate(source + start, sampleSize).saves else { return nil }
        }
        let (table, saves) = estimate(source, n)
        guard saves else { return nil }
        let bytes = out.assumingMemoryBound(to: UInt8.self)
        let cursor = table.serialize(into: bytes, at: 0)
        return cursor + Rans.encode(source, count: n, table: table, into: bytes + cursor)
    }

    static let sampleSize = 64 << 10

    /// The table for `n` bytes and whether coding them with it saves more than 1/64.
    private static func estimate(_ bytes: UnsafePointer<UInt8>, _ n: Int) -> (table: RansTable, saves: Bool) {
        var counts = [Int](repeating: 0, count: 256)
        counts.withUnsafeMutableBufferPointer { histogram(bytes, n, into: $0.baseAddress!) }
        let table = counts.withUnsafeBufferPointer { RansTable(counts: $0.baseAddress!) }
        let bits = counts.withUnsafeBufferPointer { table.cost(of: $0.baseAddress!) }
        let overhead = table.serializedSize + Rans.headerSize
        return (table, Double(overhead) + bits / 8 < Double(n - n / 64))
    }

    /// Decodes a payload into `target`, which must be exactly the plane's length.
    static func decode(_ payload: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) throws {
        let (table, cursor) = try RansTable.parse(payload, at: 0)
        if let only = table.soleSymbol {
            // One symbol owns every slot: no step changes a state or reads a word (a
            // zero mantissa plane of a rounded model), so the plane is that byte.
            try Rans.checkConstant(UnsafeRawBufferPointer(rebasing: payload[cursor...]))
            target.initializeMemory(as: UInt8.self, repeating: only)
            return
        }
        let slots = UnsafeMutablePointer<UInt32>.allocate(capacity: Rans.total)
        let symbols = UnsafeMutablePointer<UInt8>.allocate(capacity: Rans.total)
        defer { slots.deallocate(); symbols.deallocate() }
        table.fillSlots(slots, symbols: symbols)
        guard let out = target.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw FormatError(.malformed(what: "rANS plane", detail: "a plane of no bytes is stored raw"))
        }
        try Rans.decode(UnsafeRawBufferPointer(rebasing: payload[cursor...]), slots: slots, symbols: symbols, count: target.count, into: out)
    }

    /// Byte histogram in four interleaved tables, so that runs of one value do not stall
    /// on a single counter.
    static func histogram(_ bytes: UnsafePointer<UInt8>, _ n: Int, into counts: UnsafeMutablePointer<Int>) {
        let tables = UnsafeMutablePointer<UInt32>.allocate(capacity: 4 * 256)
        defer { tables.deallocate() }
        tables.initialize(repeating: 0, count: 4 * 256)
        var i = 0
        // UInt32 counters: a plane is at most 16 MiB, under 2^32.
        while i + 4 <= n {
            tables[Int(bytes[i])] &+= 1
            tables[256 + Int(bytes[i + 1])] &+= 1
            tables[512 + Int(bytes[i + 2])] &+= 1
            tables[768 + Int(bytes[i + 3])] &+= 1
            i += 4
        }
        while i < n { tables[Int(bytes[i])] &+= 1; i += 1 }
        for s in 0..<256 {
            counts[s] = Int(tables[s]) + Int(tables[256 + s]) + Int(tables[512 + s]) + Int(tables[768 + s])
        }
    }
}
