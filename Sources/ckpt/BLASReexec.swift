import Engine
import Foundation

/// Runs ckpt again, once, with `OPENBLAS_CORETYPE` set when OpenBLAS picked kernels weaker
/// than the CPU supports (`BLASCore.reexecCore` decides; the library reads the variable
/// only when it loads, so this process cannot switch). Called first thing, before anything
/// is read or written. If the exec fails, ckpt carries on with the library's pick.
enum BLASReexec {
    static func ifNeeded() {
        let environment = ProcessInfo.processInfo.environment
        let picked = BLASCore.loadedCore
        guard let core = BLASCore.reexecCore(environment: environment, libraryCore: picked, flags: BLASCore.currentFlags()) else { return }
        setenv(BLASCore.overrideVariable, core, 1)
        setenv(BLASCore.markerVariable, picked.isEmpty ? "unknown" : picked, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: the exec failed. Undo, so that `ckpt devices` reports what runs.
        unsetenv(BLASCore.overrideVariable)
        unsetenv(BLASCore.markerVariable)
    }
}
