import Catalog
import XCTest

/// The graph `ckpt log` draws, against what `git log --graph` draws for the same history.
final class CatalogLineageGraphTests: XCTestCase {
    private func draw(_ nodes: [(Int64, [Int64])]) -> [String] {
        LineageGraph.draw(nodes.map { LineageGraph.Node(id: $0.0, parents: $0.1) }).map { line in
            line.node.map { "\(line.graph) \(nodes[$0].0)" } ?? line.graph
        }
    }

    func testALineIsAColumnOfStars() {
        XCTAssertEqual(draw([(3, [2]), (2, [1]), (1, [])]), ["* 3", "* 2", "* 1"])
    }

    func testABranchAndAMerge() {
        // 4 merges 2 and 3, both children of 1.
        XCTAssertEqual(draw([(4, [2, 3]), (3, [1]), (2, [1]), (1, [])]), [
            "* 4",
            "|\\",
            "| * 3",
            "* | 2",
            "|/",
            "* 1",
        ])
    }

    func testTwoChildrenOfOneParentJoinBeforeIt() {
        XCTAssertEqual(draw([(3, [1]), (2, [1]), (1, [])]), [
            "* 3",
            "| * 2",
            "|/",
            "* 1",
        ])
    }

    func testSeparateModelsRunSideBySide() {
        // a2 -> a1 and b1, interleaved by time.
        XCTAssertEqual(draw([(4, [2]), (3, []), (2, []), (1, [])]).first, "* 4")
        XCTAssertEqual(draw([(4, [1]), (3, []), (2, [1]), (1, [])]), [
            "* 4",
            "| * 3",
            "| * 2",
            "|/",
            "* 1",
        ])
    }

    func testARootInTheMiddleShiftsLaterLanesLeft() {
        XCTAssertEqual(draw([(4, [1]), (3, [2]), (2, []), (1, [])]), [
            "* 4",
            "| * 3",
            "| * 2",
            "* 1",
        ])
        XCTAssertEqual(draw([(5, [1]), (4, [2]), (3, [1]), (2, []), (1, [])]), [
            "* 5",
            "| * 4",
            "| | * 3",
            "| * | 2",
            "|  /",
            "|/",
            "* 1",
        ])
    }

    func testAThreeParentMergeFansOut() {
        XCTAssertEqual(draw([(4, [1, 2, 3]), (3, []), (2, []), (1, [])]), [
            "* 4",
            "|\\",
            "| |\\",
            "| | * 3",
            "| * 2",
            "* 1",
        ])
    }
}
