namespace SafeRoute.Cli.Plotting;

/// <summary>An opaque 8-bit sRGB colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);

    /// <summary>Makes a colour from 0xRRGGBB.</summary>
    public static Rgb FromHex(int rgb) => new((byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb);
}
