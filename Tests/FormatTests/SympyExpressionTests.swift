import XCTest
@testable import Format

/// torch.export writes symbolic sizes as sympy's `srepr`; these strings are what sympy 1.x
/// printed for torch's own functions, and the values what sympy computed for s0 = 5, s1 = 3.
final class SympyExpressionTests: XCTestCase {
    func testSympysOwnTextEvaluatesToSympysValues() throws {
        let cases: [(String, Int)] = [
            ("Add(Mul(Integer(2), Symbol('s0', positive=True, integer=True)), Integer(1))", 11),
            ("FloorDiv(Symbol('s0', positive=True, integer=True), Integer(2))", 2),
            ("PythonMod(Add(Symbol('s0', positive=True, integer=True), Integer(-7)), Integer(3))", 1),
            ("Mul(Symbol('s0', positive=True, integer=True), Symbol('s1', positive=True, integer=True))", 15),
            ("Pow(Add(Symbol('s0', positive=True, integer=True), Integer(1)), Integer(2))", 36),
            ("Add(Mul(Symbol('s0', positive=True, integer=True), Symbol('s1', positive=True, integer=True)), Integer(-3))", 12),
            ("Symbol('s77', positive=True, integer=True)", 7),
        ]
        for (text, value) in cases {
            let size = try SympyExpression.parse(text)
            XCTAssertEqual(try size.evaluate(["s0": 5, "s1": 3, "s77": 7], what: text), value, text)
        }
    }

    func testAnythingElseIsATypedRefusal() {
        for text in ["Exec(Integer(1))", "Add(Integer(1)", "Integer(99999999999999999999)", "Pow(Symbol('s0'), Integer(100))",
                     String(repeating: "Add(", count: 100) + "Integer(1)" + String(repeating: ")", count: 100)] {
            XCTAssertThrowsError(try SympyExpression.parse(text), text) { XCTAssertTrue($0 is FormatError, "\($0)") }
        }
    }
}
