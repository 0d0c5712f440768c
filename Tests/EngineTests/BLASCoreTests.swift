import Engine
import Foundation
import XCTest

/// The choice of OpenBLAS kernels from the CPU's flags and the library's own pick.
final class BLASCoreTests: XCTestCase {
    /// The flags of real CPUs, as /proc/cpuinfo lists them (the vector ones that matter, among others).
    static let sapphireRapids: Set<String> = ["sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq",
                                              "avx512cd", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile"]
    static let zen3: Set<String> = ["sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "bmi2"]
    static let ivyBridge: Set<String> = ["sse3", "ssse3", "sse4_1", "sse4_2", "avx", "f16c"]
    static let old: Set<String> = ["sse", "sse2", "sse3", "ssse3"]
    /// avx512f without bw/vl/dq (Knights Landing): not SkylakeX's kernels.
    static let knightsLanding: Set<String> = ["avx", "avx2", "fma", "avx512f", "avx512cd", "avx512er", "avx512pf"]

    func testTheFlagsGiveTheStrongestCore() {
        XCTAssertEqual(BLASCore.supported(flags: Self.sapphireRapids), "SkylakeX")
        XCTAssertEqual(BLASCore.supported(flags: Self.knightsLanding), "Haswell")
        XCTAssertEqual(BLASCore.supported(flags: Self.zen3), "Haswell")
        XCTAssertEqual(BLASCore.supported(flags: ["avx", "avx2"]), "Sandybridge") // avx2 without fma is not Haswell's
        XCTAssertEqual(BLASCore.supported(flags: Self.ivyBridge), "Sandybridge")
        XCTAssertNil(BLASCore.supported(flags: Self.old))
        XCTAssertNil(BLASCore.supported(flags: []))
    }

    func testAFallbackToPrescottIsOverridden() {
        XCTAssertEqual(BLASCore.better(than: "Prescott", flags: Self.sapphireRapids), "SkylakeX")
        XCTAssertEqual(BLASCore.better(than: "Unknown", flags: Self.zen3), "Haswell")
        XCTAssertEqual(BLASCore.better(than: "PRESCOTT", flags: Self.ivyBridge), "Sandybridge")
        XCTAssertEqual(BLASCore.better(than: "Nehalem", flags: Self.sapphireRapids), "SkylakeX")
        // A weaker known core than the flags allow.
        XCTAssertEqual(BLASCore.better(than: "Haswell", flags: Self.sapphireRapids), "SkylakeX")
        XCTAssertEqual(BLASCore.better(than: "Sandybridge", flags: Self.zen3), "Haswell")
    }

    func testAGoodOrUnknownPickIsKept() {
        XCTAssertNil(BLASCore.better(than: "SkylakeX", flags: Self.sapphireRapids))
        XCTAssertNil(BLASCore.better(than: "Cooperlake", flags: Self.sapphireRapids))
        XCTAssertNil(BLASCore.better(than: "Zen", flags: Self.zen3))
        XCTAssertNil(BLASCore.better(than: "Haswell", flags: Self.zen3))
        XCTAssertNil(BLASCore.better(than: "Prescott", flags: Self.old))
        // A name this table does not know may be newer than it: never replaced.
        XCTAssertNil(BLASCore.better(than: "GraniteRapids", flags: Self.sapphireRapids))
        XCTAssertNil(BLASCore.better(than: "", flags: Self.sapphireRapids))
    }

    func testTheUsersChoiceAndTheLoopMarkerStopTheReexec() {
        XCTAssertEqual(BLASCore.reexecCore(environment: [:], libraryCore: "Prescott", flags: Self.sapphireRapids), "SkylakeX")
        XCTAssertNil(BLASCore.reexecCore(environment: ["OPENBLAS_CORETYPE": "Haswell"], libraryCore: "Prescott", flags: Self.sapphireRapids))
        XCTAssertNil(BLASCore.reexecCore(environment: [BLASCore.markerVariable: "Prescott"], libraryCore: "Prescott", flags: Self.sapphireRapids))
        XCTAssertNil(BLASCore.reexecCore(environment: [:], libraryCore: "SkylakeX", flags: Self.sapphireRapids))
    }

    func testCpuinfoFlagsAreReadFromTheFirstFlagsLine() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n"
            + "flags\t\t: fpu sse3 avx avx2 fma avx512f avx512dq avx512bw avx512vl\nbugs\t\t: spectre_v1\n\n"
            + "processor\t: 1\nflags\t\t: fpu sse3\n"
        XCTAssertEqual(BLASCore.flags(cpuinfo: text), ["fpu", "sse3", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"])
        XCTAssertEqual(BLASCore.flags(cpuinfo: "no flags here\nflagsx: avx\n"), [])
        XCTAssertEqual(BLASCore.better(than: "Prescott", flags: BLASCore.flags(cpuinfo: text)), "SkylakeX")
    }

    func testTheRunningLibraryIsDescribed() {
        let info = CPUKernelInfo.current(environment: [:])
        XCTAssertEqual(info.library, "OpenBLAS")
        XCTAssertFalse(info.core.isEmpty)
        XCTAssertEqual(info.source, .library)
        XCTAssertGreaterThanOrEqual(info.threads, 1)
        let chosen = CPUKernelInfo.current(environment: [BLASCore.markerVariable: "Prescott", "OPENBLAS_CORETYPE": "SkylakeX"])
        XCTAssertEqual(chosen.source, .cpuFlags)
        XCTAssertEqual(chosen.libraryCore, "Prescott")
        XCTAssertTrue(chosen.summary.contains("(chosen from CPU flags; library picked Prescott)"), chosen.summary)
    }
}
