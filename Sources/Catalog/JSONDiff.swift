import Format

/// One difference between two JSON documents, at a JSON Pointer path (RFC 6901).
public struct JSONChange: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case added, removed, changed }
    public var path: String
    public var kind: Kind
    /// Compact JSON of the value before (removed, changed) and after (added, changed).
    public var old: String?
    public var new: String?
}

/// Structural diff of JSON values: objects by key, arrays aligned on their longest
/// common run of equal elements (so inserting one layer into a list of layers reads as
/// one addition, not as every later layer changed), scalars by value.
public enum JSONDiff {
    public static func diff(_ a: JSONValue?, _ b: JSONValue?) -> [JSONChange] {
        var changes: [JSONChange] = []
        walk(a, b, path: "", into: &changes)
        return changes
    }

    private static func walk(_ a: JSONValue?, _ b: JSONValue?, path: String, into changes: inout [JSONChange]) {
        switch (a, b) {
        case (nil, nil):
            return
        case (nil, let b?):
            changes.append(JSONChange(path: display(path), kind: .added, old: nil, new: text(b)))
        case (let a?, nil):
            changes.append(JSONChange(path: display(path), kind: .removed, old: text(a), new: nil))
        case (.object(let x)?, .object(let y)?):
            for key in Set(x.keys).union(y.keys).sorted() {
                walk(x[key], y[key], path: path + "/" + escape(key), into: &changes)
            }
        case (.array(let x)?, .array(let y)?):
            walkArrays(x, y, path: path, into: &changes)
        case (let a?, let b?):
            if a != b { changes.append(JSONChange(path: display(path), kind: .changed, old: text(a), new: text(b))) }
        }
    }

    private static func walkArrays(_ x: [JSONValue], _ y: [JSONValue], path: String, into changes: inout [JSONChange]) {
        if x == y { return }
        // Longest common subsequence of equal elements; quadratic, so only for lists of
        // the size architecture documents have. Longer ones compare index by index.
        guard x.count * y.count <= 1_000_000 else {
            for k in 0..<max(x.count, y.count) {
                walk(k < x.count ? x[k] : nil, k < y.count ? y[k] : nil, path: path + "/\(k)", into: &changes)
            }
            return
        }
        var length = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                length[i][j] = x[i] == y[j] ? length[i + 1][j + 1] + 1 : max(length[i + 1][j], length[i][j + 1])
            }
        }
        var i = 0, j = 0
        var pendingX: [Int] = [], pendingY: [Int] = []
        func flush() {
            // Unmatched runs pair up as changes, the rest are additions or removals.
            for k in 0..<max(pendingX.count, pendingY.count) {
                let old = k < pendingX.count ? pendingX[k] : nil
                let new = k < pendingY.count ? pendingY[k] : nil
                walk(old.map { x[$0] }, new.map { y[$0] }, path: path + "/\(new ?? old!)", into: &changes)
            }
            pendingX.removeAll()
            pendingY.removeAll()
        }
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] {
                flush()
                i += 1; j += 1
            } else if j < y.count, i == x.count || length[i][j + 1] >= length[i + 1][j] {
                pendingY.append(j); j += 1
            } else {
                pendingX.append(i); i += 1
            }
        }
        flush()
    }

    private static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private static func display(_ path: String) -> String { path.isEmpty ? "/" : path }

    /// Compact JSON, cut to a readable length.
    static func text(_ value: JSONValue) -> String {
        let full: String
        do { full = String(decoding: try value.serialized(), as: UTF8.self) } catch {
            full = "\(value)"   // only a non-finite number fails to serialise; JSON parsed from text has none
        }
        return full.count > 80 ? String(full.prefix(77)) + "..." : full
    }
}
