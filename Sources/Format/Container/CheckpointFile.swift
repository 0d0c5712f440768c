import Foundation

/// Whole-file convenience over `ContainerReader` and `ContainerWriter`.
public enum CheckpointFile {
    /// Reads every tensor, section and probe, verifying each checksum it touches.
    public static func read(contentsOf url: URL) throws -> Checkpoint {
        try ContainerReader(contentsOf: url).checkpoint()
    }

    /// Writes `checkpoint` atomically: the destination holds the old file or the whole new one.
    /// `progress` gets (raw bytes written, raw bytes of every tensor and probe tensor).
    public static func write(_ checkpoint: Checkpoint, to url: URL, options: WriteOptions = WriteOptions(),
                             progress: ((Int, Int) -> Void)? = nil) throws {
        do {
            let writer = try ContainerWriter(destination: url, options: options)
            writer.progress = progress
            writer.expectedBytes = checkpoint.tensors.reduce(0) { $0 + $1.tensor.data.count }
                + checkpoint.probes.reduce(0) { $0 + ($1.inputs + $1.outputs).reduce(0) { $0 + $1.data.count } }
            for tensor in checkpoint.tensors { try writer.add(tensor) }
            if let architecture = checkpoint.architecture { try writer.setArchitecture(architecture.text) }
            if let metadata = checkpoint.metadata { try writer.setMetadata(metadata) }
            for probe in checkpoint.probes { try writer.add(probe) }
            try writer.finish()
        } catch let error as FormatError {
            throw error.naming(url.path)
        }
    }
}
