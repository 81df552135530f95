namespace SafeRoute.Training;

/// <summary>
/// AdamW exactly as PyTorch's single-tensor implementation computes it in float32: decoupled weight decay
/// p ← p·(1 − lr·λ), then m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
/// </summary>
internal sealed class AdamW(int size, double beta1, double beta2, double epsilon, double weightDecay)
{
    private readonly float[] _m = new float[size];
    private readonly float[] _v = new float[size];
    private int _t;

    public void Step(float[] parameters, float[] gradients, double learningRate)
    {
        _t++;
        double bias1 = 1 - Math.Pow(beta1, _t);
        double bias2 = 1 - Math.Pow(beta2, _t);
        float decay = (float)(1 - (learningRate * weightDecay));
        float stepSize = (float)(learningRate / bias1);
        float sqrtBias2 = (float)Math.Sqrt(bias2);
        float b1 = (float)beta1;
        float b2 = (float)beta2;
        float eps = (float)epsilon;
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradients[i];
            float p = parameters[i] * decay;
            float m = (b1 * _m[i]) + ((1 - b1) * g);
            float v = (b2 * _v[i]) + ((1 - b2) * g * g);
            _m[i] = m;
            _v[i] = v;
            parameters[i] = p - (stepSize * m / ((MathF.Sqrt(v) / sqrtBias2) + eps));
        }
    }
}
