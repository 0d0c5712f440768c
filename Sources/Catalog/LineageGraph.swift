/// Draws version history as `git log --graph` does, in ASCII: `*` a version, `|` a line
/// of descent, `\` a line forking right (a merge's further parents), `/` a line joining
/// left (two children of one parent meet there).
///
/// Versions come newest first, each parent after all its children (ids grow with time,
/// and a parent always exists before its child). Each lane holds the version it is
/// waiting for; lane k is drawn at column 2k, its connectors at the odd columns between.
public enum LineageGraph {
    public struct Node: Sendable {
        public var id: Int64
        /// Parents shown in this graph, in order; a parent not shown is left out.
        public var parents: [Int64]
        public init(id: Int64, parents: [Int64]) {
            self.id = id
            self.parents = parents
        }
    }

    /// A line of the drawing: the graph part, and which node it shows (nil for a
    /// connecting line).
    public struct Line: Equatable, Sendable {
        public var graph: String
        public var node: Int?
    }

    public static func draw(_ nodes: [Node]) -> [Line] {
        var lines: [Line] = []
        var lanes: [Int64] = []
        for (index, node) in nodes.enumerated() {
            if !lanes.contains(node.id) { lanes.append(node.id) }
            let lane = lanes.firstIndex(of: node.id)!
            // Children that waited for this node in other lanes join its lane first.
            if lanes.lastIndex(of: node.id)! != lane {
                var edges: [(Int, Int)] = []
                var kept: [Int64] = []
                for (k, id) in lanes.enumerated() {
                    if id == node.id && k != lane {
                        edges.append((k, lane))
                    } else {
                        edges.append((k, kept.count))
                        kept.append(id)
                    }
                }
                lines += transition(edges, width: lanes.count)
                lanes = kept
            }
            lines.append(Line(graph: row(lanes.indices.map { $0 == lane ? "*" : "|" }), node: index))

            // The node's lane now waits for its first parent; further parents fork right.
            var edges: [(Int, Int)] = []
            var next: [Int64] = Array(lanes[..<lane])
            for k in 0..<lane { edges.append((k, k)) }
            for (p, parent) in node.parents.enumerated() {
                edges.append((lane, lane + p))
                next.append(parent)
            }
            let shift = node.parents.count - 1   // -1 when the lane ends here (a root)
            for k in (lane + 1)..<max(lane + 1, lanes.count) {
                edges.append((k, k + shift))
                next.append(lanes[k])
            }
            if edges.contains(where: { $0.0 != $0.1 }) { lines += transition(edges, width: max(lanes.count, next.count)) }
            lanes = next
        }
        return lines
    }

    /// Lines that carry each edge from its lane above to its lane below, one lane
    /// sideways per line, as git draws them.
    private static func transition(_ edges: [(Int, Int)], width: Int) -> [Line] {
        var position = edges.map(\.0)
        var lines: [Line] = []
        while zip(position, edges).contains(where: { $0 != $1.1 }) {
            var cells = [Character](repeating: " ", count: 2 * width + 1)
            for (k, edge) in edges.enumerated() {
                let column = position[k]
                if column < edge.1 {
                    cells[2 * column + 1] = "\\"
                    position[k] += 1
                } else if column > edge.1 {
                    cells[2 * column - 1] = "/"
                    position[k] -= 1
                } else if cells[2 * column] == " " {
                    cells[2 * column] = "|"
                }
            }
            lines.append(Line(graph: trimmed(String(cells)), node: nil))
        }
        return lines
    }

    private static func row(_ cells: [String]) -> String { cells.joined(separator: " ") }

    private static func trimmed(_ text: String) -> String {
        var text = text
        while text.last == " " { text.removeLast() }
        return text
    }
}
