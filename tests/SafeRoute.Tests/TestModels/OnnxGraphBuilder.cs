using Google.Protobuf;
using Onnx;

namespace SafeRoute.Tests.TestModels;

/// <summary>
/// A small fluent writer of ONNX models over OnnxSharp's protobuf classes: default-domain opset 17, IR version 8.
/// Dimensions of inputs and outputs are given as objects: an <see cref="int"/>/<see cref="long"/> is a fixed size, a
/// <see cref="string"/> a symbolic one ("batch", "seq").
/// </summary>
internal sealed class OnnxGraphBuilder
{
    public const int DefaultOpset = 17;
    public const long DefaultIrVersion = 8;

    private readonly GraphProto _graph;
    private readonly List<(string Key, string Value)> _metadata = [];
    private int _nodeCounter;

    public OnnxGraphBuilder(string graphName = "graph", int opset = DefaultOpset, long irVersion = DefaultIrVersion)
    {
        _graph = new GraphProto { Name = graphName };
        Opset = opset;
        IrVersion = irVersion;
    }

    public int Opset { get; }

    public long IrVersion { get; }

    /// <summary>The graph being built (for inspection or for additions the builder does not cover).</summary>
    public GraphProto Graph => _graph;

    public OnnxGraphBuilder FloatInitializer(string name, long[] dims, float[] values)
    {
        CheckCount(name, dims, values.Length);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        byte[] raw = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw_data is little-endian.");
        }

        tensor.RawData = ByteString.CopyFrom(raw);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder FloatScalar(string name, float value) => FloatInitializer(name, [], [value]);

    public OnnxGraphBuilder Int64Initializer(string name, long[] dims, long[] values)
    {
        CheckCount(name, dims, values.Length);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder Int64Scalar(string name, long value) => Int64Initializer(name, [], [value]);

    public OnnxGraphBuilder BoolScalar(string name, bool value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Bool };
        tensor.Int32Data.Add(value ? 1 : 0);
        _graph.Initializer.Add(tensor);
        return this;
    }

    public OnnxGraphBuilder Int64Vector(string name, params long[] values) => Int64Initializer(name, [values.Length], values);

    public OnnxGraphBuilder Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return this;
    }

    public OnnxGraphBuilder Output(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        _graph.Output.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>Adds a node; returns the builder. Attributes: int/long, long[]/int[], float/double, string, float[], and a
    /// <see cref="GraphProto"/> (a subgraph, e.g. a Loop body).</summary>
    public OnnxGraphBuilder Node(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{_nodeCounter++}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach ((string attrName, object value) in attributes)
        {
            node.Attribute.Add(Attribute(attrName, value));
        }

        _graph.Node.Add(node);
        return this;
    }

    /// <summary>Adds a single-output node and returns the output name (<paramref name="output"/> or a generated one).</summary>
    public string Op(string opType, string[] inputs, string? output = null, params (string Name, object Value)[] attributes)
    {
        output ??= $"{opType.ToLowerInvariant()}_{_nodeCounter}_out";
        Node(opType, inputs, [output], attributes);
        return output;
    }

    /// <summary>Adds a model-level metadata_props entry (read by ONNX Runtime as custom metadata).</summary>
    public OnnxGraphBuilder Metadata(string key, string value)
    {
        _metadata.Add((key, value));
        return this;
    }

    public ModelProto ToModel()
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "SafeRoute.Tests.OnnxGraphBuilder",
            ProducerVersion = "1",
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach ((string key, string value) in _metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model;
    }

    public byte[] ToBytes() => ToModel().ToByteArray();

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    private static void CheckCount(string name, long[] dims, int count)
    {
        long expected = 1;
        foreach (long d in dims)
        {
            expected *= d;
        }

        if (expected != count)
        {
            throw new ArgumentException($"Initializer '{name}' has {count} values but its shape holds {expected}.");
        }
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            var d = new TensorShapeProto.Types.Dimension();
            switch (dim)
            {
                case string symbol:
                    d.DimParam = symbol;
                    break;
                case int i:
                    d.DimValue = i;
                    break;
                case long l:
                    d.DimValue = l;
                    break;
                default:
                    throw new ArgumentException($"Dimension '{dim}' of '{name}' must be an int, a long or a string.");
            }

            shape.Dim.Add(d);
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var attribute = new AttributeProto { Name = name };
        switch (value)
        {
            case int i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case long l:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = l;
                break;
            case float f:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = f;
                break;
            case double dbl:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = (float)dbl;
                break;
            case string s:
                attribute.Type = AttributeProto.Types.AttributeType.String;
                attribute.S = ByteString.CopyFromUtf8(s);
                break;
            case long[] longs:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.AddRange(longs);
                break;
            case int[] ints:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.AddRange(ints.Select(x => (long)x));
                break;
            case float[] floats:
                attribute.Type = AttributeProto.Types.AttributeType.Floats;
                attribute.Floats.AddRange(floats);
                break;
            case GraphProto graph:
                attribute.Type = AttributeProto.Types.AttributeType.Graph;
                attribute.G = graph;
                break;
            default:
                throw new ArgumentException($"Attribute '{name}' has an unsupported value type {value?.GetType().Name ?? "null"}.");
        }

        return attribute;
    }
}
