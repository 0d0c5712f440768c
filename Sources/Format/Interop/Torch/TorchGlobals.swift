import Foundation

/// What ckpt takes a pickle global to mean. The allowlist is this enum: a global is
/// interpreted symbolically by the machine (no Python, nothing imported, nothing called),
/// refused at once when its module is one that only an attack would name, or kept as an
/// inert name (`reference`) that may be a class of an instance but is never called.
enum TorchSymbol {
    case orderedDict
    /// `torch._utils._rebuild_tensor` (1), `_rebuild_tensor_v2` (2), `_rebuild_tensor_v3` (3).
    case rebuildTensor(version: Int)
    /// `torch._utils._rebuild_parameter` and `_rebuild_parameter_with_state`.
    case rebuildParameter
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`.
    case rebuildFromType
    /// A storage class: typed (`torch.FloatStorage`) or untyped bytes (dtype nil).
    case storageType(DType?)
    case dtype(DType)
    /// A torch dtype ckpt cannot hold (complex128, fnuz floats...): refused when a tensor uses it.
    case unsupportedDType(String)
    /// `torch.Tensor`, `torch.nn.parameter.Parameter`, `Buffer`: types, never instantiated here.
    case tensorType
    case set
    case frozenset
    case object
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 spells bytes.
    case codecsEncode
    /// `copyreg._reconstructor(cls, base, state)`: an instance of `cls`.
    case reconstructor
    case torchSize
    case torchDevice
    /// A class of `torch.nn` (modules and what they hold).
    case nnClass
    /// `torch.nn.backends.thnn._get_thnn_function_backend()`, called by modules pickled with
    /// torch <= 1.0 for their `_backend` attribute: interpreted as None.
    case legacyBackend
    /// A type of `builtins` that holds data (`list`, `dict`, `int`, `complex`...): a value
    /// OmegaConf and others name (`object_type: builtins.dict`), or a call that builds data.
    case builtinType
    /// `collections.defaultdict` and `collections.Counter`: dicts whose construction
    /// arguments (`defaultdict(list)`) only say how missing keys would be filled.
    case dictClass
    /// Any other global: kept as a name. An instance of it, or a call of it with data (an
    /// Enum member `Color(2)`, a numpy scalar), is described inertly, never made.
    case reference
}

enum TorchGlobals {
    /// Modules never allowed in a checkpoint, even as an inert name: what an attack names.
    static let refusedModules: Set<String> = [
        "os", "posix", "nt", "posixpath", "ntpath", "sys", "subprocess", "shutil", "socket", "pty", "runpy",
        "importlib", "pickle", "_pickle", "cPickle", "marshal", "ctypes", "_ctypes", "cffi", "code", "codeop",
        "webbrowser", "io", "_io", "types", "functools", "operator", "_operator", "codecs", "_codecs", "copyreg",
        "builtins", "multiprocessing", "threading", "_thread", "signal", "pathlib", "tempfile", "glob", "asyncio",
        "inspect", "pdb", "bdb", "timeit", "platform", "urllib", "urllib2", "http", "httplib", "ftplib", "smtplib",
        "telnetlib", "zipimport", "shelve", "dbm", "sqlite3", "gc", "weakref", "ast", "dis", "site", "sysconfig",
        "pip", "setuptools", "distutils", "commands", "popen2", "pydoc", "imp", "linecache", "fileinput", "trace",
        "cProfile", "profile", "_posixsubprocess", "select", "selectors", "mmap", "resource", "fcntl", "termios",
        "tty", "pwd", "grp", "spwd", "crypt", "ssl", "xmlrpc", "zipfile", "tarfile", "shlex", "dill", "cloudpickle",
        "joblib",
    ]

    /// The data types of `builtins` a checkpoint may name or build; every other name in
    /// `builtins` (eval, exec, getattr, __import__, open...) is refused even as a value.
    static let builtinTypes: Set<String> = [
        "list", "dict", "tuple", "int", "float", "complex", "str", "bytes", "bytearray", "bool", "slice", "range",
    ]

    /// `_compat_pickle.NAME_MAPPING`'s renames of `__builtin__` data types.
    static let python2BuiltinNames: [String: String] = [
        "long": "int", "unicode": "str", "basestring": "str", "xrange": "range",
    ]

    static let typedStorages: [String: DType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
        "BoolStorage": .bool, "ComplexFloatStorage": .c64,
    ]

    static let dtypes: [String: DType] = [
        "float64": .f64, "double": .f64, "float32": .f32, "float": .f32, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "uint16": .u16, "uint32": .u32, "uint64": .u64, "bool": .bool,
        "complex64": .c64, "cfloat": .c64, "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2,
        "float8_e8m0fnu": .f8e8m0,
    ]

    static let unsupportedDTypes: Set<String> = [
        "complex128", "cdouble", "complex32", "chalf", "float8_e4m3fnuz", "float8_e5m2fnuz", "float4_e2m1fn_x2",
        "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
        "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5",
        "uint6", "uint7",
    ]

    /// Rebuild functions of torch that ckpt knows and declines, with the reason.
    static let declinedRebuilds: [String: String] = [
        "_rebuild_qtensor": "quantized tensors are not supported",
        "_rebuild_sparse_tensor": "sparse tensors are not supported",
        "_rebuild_sparse_csr_tensor": "sparse tensors are not supported",
        "_rebuild_nested_tensor": "nested tensors are not supported",
        "_rebuild_meta_tensor_no_storage": "meta tensors (no data) are not supported",
        "_rebuild_wrapper_subclass": "tensor subclasses without storage are not supported",
        "_rebuild_device_tensor_from_numpy": "tensors rebuilt from numpy arrays are not supported",
        "_rebuild_device_tensor_from_cpu_tensor": "device tensors rebuilt from CPU tensors are not supported",
        "_rebuild_xla_tensor": "XLA tensors are not supported",
        "_rebuild_mps_tensor": "MPS tensors are not supported",
    ]

    /// What `module.name` means, or a refusal naming it.
    static func resolve(module rawModule: String, name rawName: String) throws -> PickleGlobal {
        let module: String
        var name = rawName
        switch rawModule {
        case "__builtin__":
            // Python 3 writes protocol-2 pickles with fix_imports (`_compat_pickle`), so the
            // class `int` appears as `__builtin__.long` (Lightning's OmegaConf hparams do it).
            module = "builtins"
            name = Self.python2BuiltinNames[rawName] ?? rawName
        case "copy_reg": module = "copyreg"
        default: module = rawModule
        }
        let qualified = "\(module).\(name)"
        func global(_ symbol: TorchSymbol) -> PickleGlobal { PickleGlobal(module: module, name: name, symbol: symbol) }
        guard isIdentifierPath(module), isIdentifierPath(name) else {
            throw Fault.refused("the global '\(qualified)'", "it is no Python name; nothing was executed")
        }

        switch (module, name) {
        case ("collections", "OrderedDict"): return global(.orderedDict)
        case ("torch._utils", "_rebuild_tensor"): return global(.rebuildTensor(version: 1))
        case ("torch._utils", "_rebuild_tensor_v2"): return global(.rebuildTensor(version: 2))
        case ("torch._utils", "_rebuild_tensor_v3"): return global(.rebuildTensor(version: 3))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            return global(.rebuildParameter)
        case ("torch._tensor", "_rebuild_from_type_v2"): return global(.rebuildFromType)
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"), ("torch.nn.parameter", "Parameter"),
             ("torch.nn.parameter", "Buffer"), ("torch.nn.parameter", "UninitializedParameter"):
            return global(.tensorType)
        case ("torch", "Size"): return global(.torchSize)
        case ("torch", "device"): return global(.torchDevice)
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"), ("torch", "TypedStorage"),
             ("torch.storage", "TypedStorage"):
            return global(.storageType(nil))
        case ("builtins", "set"): return global(.set)
        case ("builtins", "frozenset"): return global(.frozenset)
        case ("builtins", "object"): return global(.object)
        case ("builtins", _) where builtinTypes.contains(name): return global(.builtinType)
        case ("collections", "defaultdict"), ("collections", "Counter"): return global(.dictClass)
        case ("_codecs", "encode"): return global(.codecsEncode)
        case ("copyreg", "_reconstructor"): return global(.reconstructor)
        case ("torch.nn.backends.thnn", "_get_thnn_function_backend"): return global(.legacyBackend)
        default: break
        }
        if module == "torch._utils", let reason = declinedRebuilds[name] {
            throw Fault.refused(qualified, reason)
        }
        if module == "torch" || module == "torch.cuda" {
            if let dtype = typedStorages[name] { return global(.storageType(dtype)) }
            if name.hasSuffix("Storage"), name.hasPrefix("Q") {
                throw Fault.refused(qualified, "quantized storages are not supported")
            }
            if name == "ComplexDoubleStorage" {
                throw Fault.refused(qualified, "complex128 tensors are not supported by ckpt")
            }
            if name.hasSuffix("Storage") {
                throw Fault.refused(qualified, "storage type not supported by ckpt")
            }
            if module == "torch", let dtype = dtypes[name] { return global(.dtype(dtype)) }
            if module == "torch", unsupportedDTypes.contains(name) { return global(.unsupportedDType(name)) }
        }
        let root = String(module.split(separator: ".").first ?? "")
        if refusedModules.contains(root) {
            throw FormatError(.refusedGlobal(module: module, name: name))

        }
        if module == "torch.nn" || module.hasPrefix("torch.nn.") { return global(.nnClass) }
        return global(.reference)
    }

    /// Dotted Python identifiers only (ASCII letters, digits, `_`, dots between parts).
    static func isIdentifierPath(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 256 else { return false }
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard let first = part.utf8.first, !(UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(first) else { return false }
            for byte in part.utf8 {
                let ok = (UInt8(ascii: "a") ... UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A") ... UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                guard ok else { return false }
            }
        }
        return true
    }
}
