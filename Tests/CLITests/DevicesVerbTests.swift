import Foundation
import XCTest

/// `ckpt devices`, and `run` / `verify` with `--device`, on the real binary. Tests that need
/// an OpenCL device report themselves skipped where `ckpt devices` finds none.
final class OpenCLDevicesVerbTests: CLITestCase {
    /// Runs ckpt with extra environment variables (OCL_ICD_VENDORS to hide every platform).
    private func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIRunner.Result {
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIRunner.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                                stderr: String(decoding: stderr, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
    }

    private func requireDevice() throws {
        let listing = try launch(["devices", "--json"])
        guard listing.status == 0, listing.stdout.contains("\"index\"") else { throw XCTSkip("no OpenCL platform") }
    }

    func testNoPlatformIsSaidPlainlyWithExitZero() throws {
        let empty = work.appendingPathComponent("no-vendors")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let result = try launch(["devices"], environment: ["OCL_ICD_VENDORS": empty.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("no OpenCL platform found"), result.stdout)
        let json = try launch(["devices", "--json"], environment: ["OCL_ICD_VENDORS": empty.path])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"platformFound\" : false") || json.stdout.contains("\"platformFound\":false"), json.stdout)
        let run = try launch(["run", CLIRunner.fixture("torch/mlp/model.safetensors").path, "--input", CLIRunner.fixture("torch/mlp/x.npy").path,
                            "--output", work.appendingPathComponent("y.npy").path, "--device", "opencl"], environment: ["OCL_ICD_VENDORS": empty.path])
        // A missing driver is the machine's problem, not the checkpoint's: a usage error.
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("no OpenCL platform found"), run.stderr)
    }

    func testDevicesListsEachDevice() throws {
        try requireDevice()
        let result = try launch(["devices"])
        XCTAssertEqual(result.status, 0, result.stderr)
        for column in ["device", "platform", "name", "type", "units", "memory", "OpenCL", "driver"] {
            XCTAssertTrue(result.stdout.contains(column), column)
        }
        XCTAssertTrue(result.stdout.contains("opencl:0"), result.stdout)
    }

    func testBadDeviceIsAUsageError() throws {
        let result = try launch(["run", "x.ckpt", "--input", "x.npy", "--output", "y.npy", "--device", "tpu"])
        XCTAssertEqual(result.status, 2, result.stderr)
    }

    /// `run --device opencl` writes PyTorch's output; `verify --device all` runs the probes on
    /// the CPU and every device and compares the devices with each other.
    func testRunAndVerifyOnTheDevice() throws {
        try requireDevice()
        let file = path("lenet.ckpt")
        try ckpt("import", CLIRunner.fixture("torch/lenet/model.safetensors").path, "--arch", CLIRunner.fixture("arch/lenet.json").path, "-o", file)
        try ckpt("probe", "add", file, "--input", CLIRunner.fixture("torch/lenet/x.npy").path,
                 "--expect", CLIRunner.fixture("torch/lenet/y.npy").path, "--name", "torch")
        let run = try ckpt("run", file, "--input", CLIRunner.fixture("torch/lenet/x.npy").path, "--output", path("y.npy"), "--device", "opencl:0")
        XCTAssertTrue(run.stdout.contains("on opencl:0"), run.stdout)
        let verify = try ckpt("verify", file, "--device", "all").stdout
        XCTAssertTrue(verify.contains("probe 'torch' (expected) on cpu ok"), verify)
        XCTAssertTrue(verify.contains("probe 'torch' (expected) on opencl:0 ok"), verify)
        XCTAssertTrue(verify.contains("opencl:0 vs cpu: max rel difference"), verify)
        XCTAssertTrue(verify.contains("\(file): ok"), verify)
        let json = try ckpt("verify", file, "--device", "opencl", "--json").stdout
        XCTAssertTrue(json.contains("opencl:0"), json)
    }

    /// The three experiments print their tables (small sizes, to stay quick).
    func testBenchDevicesPrintsTheThreeExperiments() throws {
        try requireDevice()
        let out = try ckpt("bench", "devices", "--max-n", "64", "--products", "50", "--seconds", "0.01").stdout
        XCTAssertTrue(out.contains("(a) n x n products"), out)
        XCTAssertTrue(out.contains("opencl:0 with transfers"), out)
        XCTAssertTrue(out.contains("(b) 50 products of 100 x 100"), out)
        XCTAssertFalse(out.contains("norms differ"), out)
        XCTAssertTrue(out.contains("(c) two products on two devices"), out)
    }

    // MARK: the CPU backend's BLAS kernels

    private func cpu(_ result: CLIRunner.Result) throws -> [String: Any] {
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap(object?["cpu"] as? [String: Any], result.stdout)
    }

    func testDevicesNamesTheCPUKernels() throws {
        let cpu = try cpu(try launch(["devices", "--json"]))
        XCTAssertEqual(cpu["library"] as? String, "OpenBLAS")
        let core = try XCTUnwrap(cpu["core"] as? String)
        XCTAssertFalse(core.isEmpty)
        XCTAssertGreaterThanOrEqual(cpu["threads"] as? Int ?? 0, 1)
        if cpu["source"] as? String == "cpu_flags" {
            // ckpt re-executed itself with a stronger core than the library's pick.
            let picked = try XCTUnwrap(cpu["libraryCore"] as? String)
            XCTAssertNotEqual(picked.lowercased(), core.lowercased())
        } else {
            XCTAssertEqual(cpu["source"] as? String, "library")
        }
        let text = try launch(["devices"])
        XCTAssertTrue(text.stdout.hasPrefix("cpu: OpenBLAS "), text.stdout)
        XCTAssertTrue(text.stdout.contains("\(core) kernels"), text.stdout)
    }

    func testTheUsersCoreTypeIsKept() throws {
        // Prescott's SSE3 kernels run on every x86-64 CPU, so this test runs anywhere.
        let cpu = try cpu(try launch(["devices", "--json"], environment: ["OPENBLAS_CORETYPE": "Prescott"]))
        XCTAssertEqual(cpu["core"] as? String, "Prescott")
        XCTAssertEqual(cpu["source"] as? String, "environment")
        XCTAssertNil(cpu["libraryCore"] as? String)
    }
}
