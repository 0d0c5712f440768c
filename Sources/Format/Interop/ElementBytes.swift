import Foundation

/// Byte-level rearrangements that bring foreign tensor layouts to ckpt's
/// little-endian C order. Callers have already checked `data.count` against the shape.
enum ElementBytes {
    /// `bytes` of zeroed memory sized from a file: reserved in the input's budget first, then
    /// allocated so that a refusal by the system is an error (`allocationFailed`), not an abort.
    static func allocate(_ bytes: Int, budget: MemoryBudget, for what: @autoclosure () -> String) throws -> Data {
        guard bytes > 0 else { return Data() }
        try budget.reserve(bytes, for: what())
        guard let memory = calloc(bytes, 1) else {
            budget.release(UInt64(bytes))
            throw FormatError(.allocationFailed(what: what(), bytes: UInt64(bytes)))
        }
        return Data(bytesNoCopy: memory, count: bytes, deallocator: .free)
    }

    /// True when `stride` (in elements) lays `shape` out in C order with no gaps. Axes of
    /// size 1 may have any stride (no step is ever taken along them). Sizes and strides come
    /// from files: the running product is checked, and a product that overflows cannot be a
    /// stride that matches, so the layout is then simply not contiguous.
    static func isCContiguous(shape: [Int], stride: [Int]) -> Bool {
        guard shape.count == stride.count else { return false }
        var expected: Int? = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            guard let step = expected, stride[axis] == step else { return false }
            let (next, overflow) = step.multipliedReportingOverflow(by: shape[axis])
            expected = overflow ? nil : next
        }
        return true
    }

    /// Reverses the bytes of every `unit`-byte group (a big-endian element, or one
    /// half of a complex number, whose parts are swapped separately).
    static func byteSwapped(_ data: Data, unit: Int, budget: MemoryBudget, what: @autoclosure () -> String) throws -> Data {
        guard unit > 1 else { return data }
        var swapped = try allocate(data.count, budget: budget, for: what())
        data.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
            swapped.withUnsafeMutableBytes { (target: UnsafeMutableRawBufferPointer) in
                var element = 0
                while element + unit <= source.count {
                    for k in 0 ..< unit {
                        target[element + k] = source[element + unit - 1 - k]
                    }
                    element += unit
                }
            }
        }
        return swapped
    }

    /// Reorders column-major (Fortran) elements into row-major (C) order: a transpose
    /// of every axis, done by walking the C-order output and striding through the input.
    static func cOrder(fromFortran data: Data, shape: [Int], elementSize: Int, budget: MemoryBudget) throws -> Data {
        guard shape.count > 1, !data.isEmpty, !shape.contains(0) else { return data }
        // Byte stride of each axis in the Fortran layout: the first axis varies fastest.
        // The caller checked that the whole array fits in `data`, so no product overflows.
        var strides = [Int](repeating: 0, count: shape.count)
        var stride = elementSize
        for axis in shape.indices {
            strides[axis] = stride
            stride *= shape[axis]
        }
        return try gather(data, origin: 0, shape: shape, byteStrides: strides, elementSize: elementSize, count: data.count / elementSize,
                          budget: budget, what: "a Fortran-order array of \(data.count) bytes")
    }

    /// The `count` elements of a strided view copied into C order: the one strided copy of
    /// the importers (torch views, Fortran-order npy). `origin` is the byte offset of the first
    /// element from `source.startIndex`; strides are in bytes. Bounds are the caller's:
    /// every address the view reaches lies inside `source`.
    static func gather(_ source: Data, origin: Int, shape: [Int], byteStrides stride: [Int], elementSize: Int, count: Int,
                       budget: MemoryBudget, what: @autoclosure () -> String) throws -> Data {
        var out = try allocate(try checkedMultiply(count, elementSize, what()), budget: budget, for: what())
        guard count > 0 else { return out }
        if shape.isEmpty {
            out.withUnsafeMutableBytes { to in
                source.withUnsafeBytes { from in to.baseAddress!.copyMemory(from: from.baseAddress! + origin, byteCount: elementSize) }
            }
            return out
        }
        source.withUnsafeBytes { (from: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (to: UnsafeMutableRawBufferPointer) in
                guard let src = from.baseAddress, let dst = to.baseAddress else { return }
                let last = shape.count - 1
                var index = [Int](repeating: 0, count: shape.count)
                var rowStart = origin
                var written = 0
                let innerSize = shape[last], innerStride = stride[last]
                while true {
                    var at = rowStart
                    switch elementSize {
                    case 4:
                        for _ in 0 ..< innerSize {
                            (dst + written).storeBytes(of: (src + at).loadUnaligned(as: UInt32.self), as: UInt32.self)
                            written += 4
                            at += innerStride
                        }
                    default:
                        for _ in 0 ..< innerSize {
                            (dst + written).copyMemory(from: src + at, byteCount: elementSize)
                            written += elementSize
                            at += innerStride
                        }
                    }
                    // Advance the odometer over the outer axes, the last outer axis fastest.
                    var axis = last - 1
                    while axis >= 0 {
                        index[axis] += 1
                        rowStart += stride[axis]
                        if index[axis] < shape[axis] { break }
                        rowStart -= stride[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
        }
        return out
    }
}

extension Data {
    /// The little-endian integer of `T`'s width at `offset` bytes past `startIndex`;
    /// the caller has checked the bounds.
    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for byte in self[(startIndex + offset) ..< (startIndex + offset + MemoryLayout<T>.size)].reversed() {
            value = value << 8 | T(byte)
        }
        return value
    }
}

enum InteropFile {
    /// The file's bytes, memory-mapped so that tensors can be zero-copy slices of it.
    static func mapped(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ioError("read", url, error)
        }
    }

    /// The system's refusal of `operation` on `url` as a typed error, with errno when known.
    static func ioError(_ operation: String, _ url: URL, _ error: Error) -> FormatError {
        let nsError = error as NSError
        var code = Int32(EIO)
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            code = Int32(truncatingIfNeeded: posix.code)
        } else if nsError.domain == NSPOSIXErrorDomain {
            code = Int32(truncatingIfNeeded: nsError.code)
        } else if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError, NSFileNoSuchFileError: code = ENOENT
            case NSFileReadNoPermissionError: code = EACCES
            default: break
            }
        }
        return FormatError(.io(operation: operation, path: url.path, errno: code))
    }
}
