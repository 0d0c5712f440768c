import COpenBLAS
import Foundation

/// Which OpenBLAS kernels (its "core") the CPU backend should run. OpenBLAS built with
/// DYNAMIC_ARCH picks a core from the CPU's family and model when it loads; a CPU newer
/// than the library (Debian 12's 0.3.21 on a Xeon of family 6 model 207, Sapphire or Emerald
/// Rapids) falls back to Prescott, the SSE3 kernels, some 8x slower on large products. The
/// library reads `OPENBLAS_CORETYPE` only when it loads, so the choice made here takes a
/// fresh process: the CLI re-executes itself once with it set (`ckpt` entry point).
public enum BLASCore {
    /// Set in the re-executed process to the core the library picked on its own: it marks
    /// the process as re-executed (no second exec) and lets `ckpt devices` say what it was.
    public static let markerVariable = "CKPT_OPENBLAS_LIBRARY_CORE"
    /// OpenBLAS's own override; a user who sets it keeps it.
    public static let overrideVariable = "OPENBLAS_CORETYPE"

    /// OpenBLAS x86-64 core names (as `openblas_get_corename` spells them, compared without
    /// case) by the widest vector instructions their single-precision kernels use:
    /// 3 AVX-512, 2 AVX2 and FMA, 1 AVX, 0 SSE only. Names not listed are unknown here
    /// (perhaps newer than this table) and are never overridden.
    static let strength: [String: Int] = {
        var table: [String: Int] = [:]
        for name in ["skylakex", "cooperlake", "sapphirerapids"] { table[name] = 3 }
        for name in ["haswell", "zen", "excavator"] { table[name] = 2 }
        for name in ["sandybridge", "bulldozer", "piledriver", "steamroller"] { table[name] = 1 }
        for name in ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "opteron", "opteron_sse3", "barcelona",
                     "bobcat", "nano", "katmai", "coppermine", "northwood", "banias", "athlon", "unknown"] { table[name] = 0 }
        return table
    }()

    /// The strongest core the CPU's flags (`/proc/cpuinfo`) allow: `SkylakeX` with
    /// avx512f, avx512bw, avx512vl and avx512dq; `Haswell` with avx2 and fma; `Sandybridge`
    /// with avx; nil otherwise (SSE-only kernels are what the library already falls back to).
    public static func supported(flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// The core to run instead of `libraryCore` (what the library picked itself), or nil to
    /// keep it: only when the library's pick is a known core weaker than what the flags allow.
    public static func better(than libraryCore: String, flags: Set<String>) -> String? {
        guard let wanted = supported(flags: flags), let wantedStrength = strength[wanted.lowercased()],
              let picked = strength[libraryCore.lowercased()], picked < wantedStrength else { return nil }
        return wanted
    }

    /// The core this process should re-execute itself with, or nil: never when the user
    /// set `OPENBLAS_CORETYPE`, never twice (`markerVariable`), never without a better core.
    public static func reexecCore(environment: [String: String], libraryCore: String, flags: Set<String>) -> String? {
        guard environment[overrideVariable] == nil, environment[markerVariable] == nil else { return nil }
        return better(than: libraryCore, flags: flags)
    }

    /// The flags of the first `flags` line of `/proc/cpuinfo` text (x86: every core lists the same).
    public static func flags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "flags" else { continue }
            return Set(parts[1].split(separator: " ").map(String.init))
        }
        return []
    }

    /// This machine's CPU flags; empty where `/proc/cpuinfo` cannot be read. Only its start is
    /// read: the first core's flags come early, and the file grows with the core count.
    public static func currentFlags() -> Set<String> {
        guard let handle = FileHandle(forReadingAtPath: "/proc/cpuinfo") else { return [] }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: 1 << 16)) ?? Data()
        return flags(cpuinfo: String(decoding: data, as: UTF8.self))
    }

    /// The core the loaded library runs (`openblas_get_corename`).
    public static var loadedCore: String {
        guard let name = openblas_get_corename() else { return "" }
        return String(cString: name).trimmingCharacters(in: .whitespaces)
    }
}

/// What the CPU backend computes products with, as `ckpt devices` reports it.
public struct CPUKernelInfo: Encodable, Equatable, Sendable {
    /// How the running core was chosen.
    public enum Source: String, Encodable, Sendable {
        /// The library's own detection.
        case library
        /// ckpt chose it from the CPU's flags, the library's pick being weaker (`libraryCore`).
        case cpuFlags = "cpu_flags"
        /// The user's `OPENBLAS_CORETYPE`.
        case environment
    }

    public var library: String
    public var version: String
    /// The OpenBLAS core running (`SkylakeX`, `Haswell`, `Prescott`).
    public var core: String
    public var source: Source
    /// What the library picked itself when ckpt chose another core.
    public var libraryCore: String?
    public var threads: Int

    /// The running process's BLAS: version from `openblas_get_config`, core from the library.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> CPUKernelInfo {
        let config = openblas_get_config().map { String(cString: $0) } ?? ""
        let words = config.split(separator: " ")
        let version = words.count >= 2 && words[0] == "OpenBLAS" ? String(words[1]) : "unknown"
        var source = Source.library
        var libraryCore: String?
        if let picked = environment[BLASCore.markerVariable] {
            source = .cpuFlags
            libraryCore = picked
        } else if environment[BLASCore.overrideVariable] != nil {
            source = .environment
        }
        return CPUKernelInfo(library: "OpenBLAS", version: version, core: BLASCore.loadedCore, source: source,
                             libraryCore: libraryCore, threads: Int(openblas_get_num_threads()))
    }

    /// `OpenBLAS 0.3.21, SkylakeX kernels (chosen from CPU flags; library picked Prescott), 2 threads`.
    public var summary: String {
        let how: String
        switch source {
        case .library: how = "the library's own pick"
        case .cpuFlags: how = "chosen from CPU flags; library picked \(libraryCore ?? "?")"
        case .environment: how = "set by \(BLASCore.overrideVariable)"
        }
        return "\(library) \(version), \(core.isEmpty ? "unknown" : core) kernels (\(how)), \(threads) thread\(threads == 1 ? "" : "s")"
    }
}
