import Catalog
import Engine
import Format
import Foundation
import XCTest

/// The one verification path (`CheckpointResolver` -> `CheckpointSource` -> `CheckpointVerifier`)
/// for files and store references alike, tested without the binary.
final class VerificationPathTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("verify-path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// The mlp fixture with PyTorch's probe, and with `offBy` added to one expected output value.
    private func mlp(offBy: Float = 0) throws -> Checkpoint {
        var checkpoint = try Fixtures.imported(weights: "torch/mlp/model.safetensors", arch: try Fixtures.document("mlp"))
        var y = try Fixtures.floats(try Fixtures.npy("torch/mlp/y.npy"))
        y[3] += offBy
        let expected = try Fixtures.tensor(try Fixtures.npy("torch/mlp/y.npy").shape, y)
        checkpoint.probes = [Probe(name: "torch", inputs: [try Fixtures.npy("torch/mlp/x.npy")], outputs: [expected],
                                   rtol: 1e-5, atol: 1e-6, origin: .expected)]
        return checkpoint
    }

    /// A store in `directory` holding `checkpoint` as model `m`; the resolver that finds it from there.
    private func stored(_ checkpoint: Checkpoint) throws -> (Store, CheckpointResolver) {
        let store = try Store.create(in: directory).store
        _ = try store.save(SaveRequest(checkpoint: checkpoint, model: "m"))
        return (store, CheckpointResolver(environment: [:], start: directory))
    }

    func testAStoredVersionWhoseProbeFailsIsBad() throws {
        let (_, resolver) = try stored(try mlp(offBy: 0.01))
        let source = try resolver.source("m@1")
        XCTAssertTrue(source is StoredVersionSource)
        let found = try CheckpointVerifier().verify(source)
        XCTAssertFalse(found.ok)
        XCTAssertTrue(found.ran)
        XCTAssertEqual(found.probes.map(\.device), ["cpu"])
        guard case let .probeFailed(probe, device, _, maxAbs, _, _, _)? = found.problems.first else { return XCTFail("\(found.problems)") }
        XCTAssertEqual(probe, "torch")
        XCTAssertEqual(device, "cpu")
        XCTAssertEqual(maxAbs, 0.01, accuracy: 1e-4)
        // Counted apart: the mlp's 4 tensors, and the probe's input and output.
        XCTAssertEqual(found.structure.tensors, 4)
        XCTAssertEqual(found.structure.probeTensors, 2)
    }

    func testAGoodStoredVersionAndTheSameFileAgree() throws {
        let checkpoint = try mlp()
        let (_, resolver) = try stored(checkpoint)
        let file = directory.appendingPathComponent("mlp.ckpt")
        try CheckpointFile.write(checkpoint, to: file)
        let fromStore = try CheckpointVerifier().verify(try resolver.source("m@1"))
        let fromFile = try CheckpointVerifier().verify(try resolver.source(file.path))
        XCTAssertTrue(fromStore.ok, "\(fromStore.problems)")
        XCTAssertTrue(fromFile.ok, "\(fromFile.problems)")
        XCTAssertEqual(fromStore.probes.map(\.report.passed), [true])
        XCTAssertEqual(fromFile.probes.map(\.report.passed), [true])
        XCTAssertEqual(fromStore.structure.tensors, fromFile.structure.tensors)
        XCTAssertEqual(fromStore.structure.probeTensors, fromFile.structure.probeTensors)
        // --no-run checks the structure only.
        let structural = try CheckpointVerifier(run: false).verify(try resolver.source("m@1"))
        XCTAssertTrue(structural.ok)
        XCTAssertFalse(structural.ran)
        XCTAssertTrue(structural.probes.isEmpty)
    }

    /// The device choice applies to references: a missing device is refused before anything
    /// is checked (typed, the machine's problem), and an existing one runs the stored probes.
    func testDeviceChoiceAppliesToStoredVersions() throws {
        let (_, resolver) = try stored(try mlp())
        let devices = (try? OpenCLDevices.list()) ?? []
        XCTAssertThrowsError(try CheckpointVerifier(devices: .opencl(devices.count)).verify(try resolver.source("m@1"))) { error in
            let expected: OpenCLError = devices.isEmpty ? .noPlatform : .noDevice(index: devices.count, available: devices.count)
            XCTAssertEqual(error as? OpenCLError, expected)
            XCTAssertEqual((error as? OpenCLError)?.isMissingDevice, true)
        }
        guard !devices.isEmpty else { throw XCTSkip("no OpenCL platform: the device run is not checked") }
        let found = try CheckpointVerifier(devices: .all).verify(try resolver.source("m@1"))
        XCTAssertTrue(found.ok, "\(found.problems)")
        XCTAssertEqual(found.probes.map(\.device), ["cpu"] + devices.map { "opencl:\($0.index)" })
        XCTAssertEqual(found.deviceComparisons.map(\.device), devices.map { "opencl:\($0.index)" })
    }

    func testACorruptStoreHasItsOwnError() throws {
        let root = directory.appendingPathComponent(".ckpt")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("this is not an SQLite database, only sixty-four bytes of text....".utf8)
            .write(to: root.appendingPathComponent("catalog.sqlite"))
        let resolver = CheckpointResolver(environment: [:], start: directory)
        XCTAssertThrowsError(try resolver.source("m@1")) { error in
            guard case let .storeUnreadable(store, _)? = error as? CheckpointResolverError else { return XCTFail("\(error)") }
            XCTAssertEqual(URL(fileURLWithPath: store).standardizedFileURL.path, root.standardizedFileURL.path)
            XCTAssertEqual((error as? CheckpointResolverError)?.isUsage, false)
        }
    }

    func testAnUnresolvedReferenceAndAMissingStoreAreDistinct() throws {
        // No store anywhere above an empty directory under / (the temporary directory holds none).
        let lonely = CheckpointResolver(environment: [:], start: directory)
        XCTAssertThrowsError(try lonely.source("m@1")) { error in
            guard case .noSuchFileOrStore(let argument, _)? = error as? CheckpointResolverError else { return XCTFail("\(error)") }
            XCTAssertEqual(argument, "m@1")
        }
        let (_, resolver) = try stored(try mlp())
        XCTAssertThrowsError(try resolver.source("m@7")) { error in
            guard case .unresolvedReference(let argument, _, _)? = error as? CheckpointResolverError else { return XCTFail("\(error)") }
            XCTAssertEqual(argument, "m@7")
        }
        // A store given explicitly that is not there is the store's problem, not "no such file".
        let given = CheckpointResolver(store: directory.appendingPathComponent("nowhere").path, environment: [:], start: directory)
        XCTAssertThrowsError(try given.source("m@1")) { error in
            guard case .storeUnreadable? = error as? CheckpointResolverError else { return XCTFail("\(error)") }
        }
    }

    /// An existing file wins over a reference of the same spelling.
    func testAnExistingFileWins() throws {
        let (_, resolver) = try stored(try mlp())
        let file = directory.appendingPathComponent("m@1")
        try CheckpointFile.write(try mlp(offBy: 0.01), to: file)
        let source = try resolver.source("m@1")
        XCTAssertTrue(source is ContainerFileSource)
        XCTAssertFalse(try CheckpointVerifier().verify(source).ok)
    }

    /// A damaged object in the store is a structural problem of that version, and nothing runs.
    func testADamagedStoredObjectIsAStructuralProblem() throws {
        let (store, resolver) = try stored(try mlp())
        let content = try store.content("m@1")
        let object = store.objects.url(for: content.tensors[0].object)
        var bytes = try Data(contentsOf: object)
        bytes[bytes.count / 2] ^= 0xFF
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: object.path)
        try bytes.write(to: object)
        let found = try CheckpointVerifier().verify(try resolver.source("m@1"))
        XCTAssertFalse(found.ok)
        XCTAssertFalse(found.ran)
        guard case .structure? = found.problems.first else { return XCTFail("\(found.problems)") }
    }

    /// A weights-only file has nothing to run: verify checks every chunk and keeps nothing
    /// (so a file larger than memory verifies); a file with an architecture, a probe or a
    /// transplant record still loads and runs.
    func testAWeightsOnlyFileIsCheckedWithoutLoadingIt() throws {
        let full = try mlp()
        let weights = directory.appendingPathComponent("weights.ckpt")
        try CheckpointFile.write(Checkpoint(tensors: full.tensors, metadata: .object(["run": .string("a")])), to: weights)
        let bare = ContainerFileSource(weights, displayName: "weights.ckpt")
        XCTAssertFalse(bare.hasChecksBeyondStructure)
        let found = try CheckpointVerifier().verify(bare)
        XCTAssertTrue(found.ok, "\(found.problems)")
        XCTAssertFalse(found.ran)
        XCTAssertEqual(found.structure.tensors, 4)

        let whole = directory.appendingPathComponent("whole.ckpt")
        try CheckpointFile.write(full, to: whole)
        let source = ContainerFileSource(whole, displayName: "whole.ckpt")
        XCTAssertTrue(source.hasChecksBeyondStructure)
        let ran = try CheckpointVerifier().verify(source)
        XCTAssertTrue(ran.ran)
        XCTAssertEqual(ran.probes.map(\.report.passed), [true])

        // A damaged chunk is still found without loading.
        var bytes = try Data(contentsOf: weights)
        let reader = try ContainerReader(contentsOf: weights)
        let chunk = reader.manifest.tensors[0].chunks[0]
        bytes[chunk.offset + chunk.length / 2] ^= 0x55
        try bytes.write(to: weights)
        let damaged = try CheckpointVerifier().verify(ContainerFileSource(weights, displayName: "weights.ckpt"))
        XCTAssertFalse(damaged.ok)
        guard case .structure? = damaged.problems.first else { return XCTFail("\(damaged.problems)") }
    }
}
