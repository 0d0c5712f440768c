import Foundation

/// Byte-level rearrangements that bring foreign tensor layouts to ckpt's
/// little-endian C order. Callers have already checked `data.count` against the shape.
enum ElementBytes {
    /// Reverses the bytes of every `unit`-byte group (a big-endian element, or one
    /// half of a complex number, whose parts are swapped separately).
    static func byteSwapped(_ data: Data, unit: Int) -> Data {
        guard unit > 1 else { return data }
        var swapped = Data(count: data.count)
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
    static func cOrder(fromFortran data: Data, shape: [Int], elementSize: Int) -> Data {
        guard shape.count > 1, !data.isEmpty, !shape.contains(0) else { return data }
        // Byte stride of each axis in the Fortran layout: the first axis varies fastest.
        var strides = [Int](repeating: 0, count: shape.count)
        var stride = elementSize
        for axis in shape.indices {
            strides[axis] = stride
            stride *= shape[axis]
        }
        let last = shape.count - 1
        var result = Data(count: data.count)
        data.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
            result.withUnsafeMutableBytes { (target: UnsafeMutableRawBufferPointer) in
                guard let from = source.baseAddress, let to = target.baseAddress else { return }
                var index = [Int](repeating: 0, count: last)
                var rowStart = 0
                var written = 0
                while true {
                    var offset = rowStart
                    for _ in 0 ..< shape[last] {
                        (to + written).copyMemory(from: from + offset, byteCount: elementSize)
                        written += elementSize
                        offset += strides[last]
                    }
                    // Advance the odometer over the outer axes, last outer axis fastest.
                    var axis = last - 1
                    while axis >= 0 {
                        index[axis] += 1
                        rowStart += strides[axis]
                        if index[axis] < shape[axis] { break }
                        rowStart -= strides[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
        }
        return result
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


    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
