import Format

/// Stops the run with a message libFuzzer records with the input: a round trip that
/// changed a tensor is a silent wrong answer, as much a finding as a crash.
public func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz oracle: \(message())") }
}

/// Checks that `after` holds the same tensors as `before` (names, aliases, dtype, shape and
/// bytes), whatever order an exporter wrote them in.
public func expectSameTensors(_ before: Checkpoint, _ after: Checkpoint, _ what: String) {
    expect(before.tensors.count == after.tensors.count,
           "\(what): \(before.tensors.count) tensors became \(after.tensors.count)")
    var byName: [String: NamedTensor] = [:]
    for named in after.tensors { byName[named.name] = named }
    for named in before.tensors {
        guard let other = byName[named.name] else { expect(false, "\(what): tensor \(named.name.debugDescription) is lost"); return }
        expect(Set(named.allNames) == Set(other.allNames), "\(what): names of \(named.name.debugDescription) changed")
        expect(named.tensor.dtype == other.tensor.dtype, "\(what): dtype of \(named.name.debugDescription) changed")
        expect(named.tensor.shape == other.tensor.shape, "\(what): shape of \(named.name.debugDescription) changed")
        expect(named.tensor.data == other.tensor.data, "\(what): bytes of \(named.name.debugDescription) changed")
    }
}

/// The bytes every tensor holds together (wrapping, not trapping: it only gates work).
public func totalBytes(_ checkpoint: Checkpoint) -> Int {
    checkpoint.tensors.reduce(0) { $0 &+ $1.tensor.data.count }
}
