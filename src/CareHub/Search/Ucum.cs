using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace CareHub.Search;

/// <summary>
/// A small UCUM canonicaliser for quantity search (R4 search.html#quantity: "the server may ... convert to canonical
/// units"): a UCUM code ("mg/dL", "mmol/L", "kg/m2", "mm[Hg]", "/min", "10*9/L") becomes a factor and a canonical
/// code over the base units g, m, s, mol, K and a few arbitrary units, so that 1 g and 1000 mg, or 120 mm[Hg] and 16 kPa,
/// compare as equal. It covers the units of clinical data (The Unified Code for Units of Measure, https://ucum.org/ucum:
/// the SI prefixes, the base and derived units, time, volume, pressure, percent, international and arbitrary units,
/// the common customary units, annotations); a code outside that (or with parentheses, or a non-ratio unit such as Cel)
/// has no canonical form and is compared as written.
/// </summary>
public static class Ucum
{
    public const string System = "http://unitsofmeasure.org";

    /// <summary>One unit: how many base units it is, and its exponent on each base unit.</summary>
    private sealed record Unit(double Factor, IReadOnlyDictionary<string, int> Dimensions);

    private static readonly FrozenDictionary<string, double> Prefixes = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["Y"] = 1e24, ["Z"] = 1e21, ["E"] = 1e18, ["P"] = 1e15, ["T"] = 1e12, ["G"] = 1e9, ["M"] = 1e6, ["k"] = 1e3, ["h"] = 1e2, ["da"] = 1e1,
        ["d"] = 1e-1, ["c"] = 1e-2, ["m"] = 1e-3, ["u"] = 1e-6, ["n"] = 1e-9, ["p"] = 1e-12, ["f"] = 1e-15, ["a"] = 1e-18, ["z"] = 1e-21, ["y"] = 1e-24,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static Dictionary<string, int> D(params (string Base, int Exponent)[] dimensions) => dimensions.ToDictionary(d => d.Base, d => d.Exponent, StringComparer.Ordinal);

    /// <summary>Atoms (UCUM tables 1 to 4, those of clinical use), with whether they take a prefix (metric units do).</summary>
    private static readonly FrozenDictionary<string, (Unit Unit, bool Metric)> Atoms = BuildAtoms();

    private static FrozenDictionary<string, (Unit Unit, bool Metric)> BuildAtoms()
    {
        var pascal = new Unit(1000, D(("g", 1), ("m", -1), ("s", -2)));
        var joule = new Unit(1000, D(("g", 1), ("m", 2), ("s", -2)));
        var atoms = new Dictionary<string, (Unit, bool)>(StringComparer.Ordinal)
        {
            ["1"] = (new Unit(1, D()), false),
            ["g"] = (new Unit(1, D(("g", 1))), true),
            ["m"] = (new Unit(1, D(("m", 1))), true),
            ["s"] = (new Unit(1, D(("s", 1))), true),
            ["K"] = (new Unit(1, D(("K", 1))), true),
            ["mol"] = (new Unit(1, D(("mol", 1))), true),
            ["eq"] = (new Unit(1, D(("mol", 1))), true),
            ["osm"] = (new Unit(1, D(("mol", 1))), true),
            ["L"] = (new Unit(1e-3, D(("m", 3))), true),
            ["l"] = (new Unit(1e-3, D(("m", 3))), true),
            ["min"] = (new Unit(60, D(("s", 1))), false),
            ["h"] = (new Unit(3600, D(("s", 1))), false),
            ["d"] = (new Unit(86400, D(("s", 1))), false),
            ["wk"] = (new Unit(604800, D(("s", 1))), false),
            ["mo"] = (new Unit(2629800, D(("s", 1))), false),
            ["a"] = (new Unit(31557600, D(("s", 1))), false),
            ["Hz"] = (new Unit(1, D(("s", -1))), true),
            ["N"] = (new Unit(1000, D(("g", 1), ("m", 1), ("s", -2))), true),
            ["Pa"] = (pascal, true),
            ["bar"] = (pascal with { Factor = 1e8 }, true),
            ["m[Hg]"] = (pascal with { Factor = 133322.387415 * 1000 }, true),
            ["m[H2O]"] = (pascal with { Factor = 9806.65 * 1000 }, true),
            ["J"] = (joule, true),
            ["cal"] = (joule with { Factor = 4184 }, true),
            ["W"] = (new Unit(1000, D(("g", 1), ("m", 2), ("s", -3))), true),
            ["U"] = (new Unit(1e-6 / 60, D(("mol", 1), ("s", -1))), true),
            ["kat"] = (new Unit(1, D(("mol", 1), ("s", -1))), true),
            ["%"] = (new Unit(0.01, D()), false),
            ["[ppm]"] = (new Unit(1e-6, D()), false),
            ["[IU]"] = (new Unit(1, D(("[IU]", 1))), true),
            ["[iU]"] = (new Unit(1, D(("[IU]", 1))), true),
            ["[arb'U]"] = (new Unit(1, D(("[arb'U]", 1))), false),
            ["[lb_av]"] = (new Unit(453.59237, D(("g", 1))), false),
            ["[oz_av]"] = (new Unit(28.349523125, D(("g", 1))), false),
            ["[in_i]"] = (new Unit(0.0254, D(("m", 1))), false),
            ["[ft_i]"] = (new Unit(0.3048, D(("m", 1))), false),
            ["[mi_i]"] = (new Unit(1609.344, D(("m", 1))), false),
            ["[gal_us]"] = (new Unit(3.785411784e-3, D(("m", 3))), false),
            ["[foz_us]"] = (new Unit(2.95735295625e-5, D(("m", 3))), false),
            ["[pt_us]"] = (new Unit(4.73176473e-4, D(("m", 3))), false),
        };
        return atoms.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The canonical form of a UCUM code: multiply a value in the code's unit by Factor to get it in Code.</summary>
    public static (double Factor, string Code)? Canonical(string? code)
    {
        if (string.IsNullOrWhiteSpace(code) || code.Length > 64 || code.Contains('(', StringComparison.Ordinal) || code.Contains(' ', StringComparison.Ordinal))
        {
            return null;
        }

        var factor = 1.0;
        var dimensions = new Dictionary<string, int>(StringComparer.Ordinal);
        var i = 0;
        var sign = 1;
        if (code[0] == '/')
        {
            sign = -1;
            i = 1;
        }

        while (i <= code.Length)
        {
            var end = NextOperator(code, i);
            if (end == i || !Term(code[i..end], out var termFactor, out var termDimensions))
            {
                return null;
            }

            factor = sign > 0 ? factor * termFactor : factor / termFactor;
            foreach (var (name, exponent) in termDimensions)
            {
                dimensions[name] = dimensions.GetValueOrDefault(name) + sign * exponent;
            }

            if (end == code.Length)
            {
                break;
            }

            sign = code[end] == '/' ? -1 : 1;
            i = end + 1;
        }

        // A dimensionless unit (%, 1, {score}, {cells}/{cells}) has no canonical form here: UCUM makes them all unity, but a
        // percentage, a score and a count are different measures, so they are compared only as written.
        if (dimensions.Values.All(exponent => exponent == 0))
        {
            return null;
        }

        return double.IsFinite(factor) && factor > 0 ? (factor, Format(dimensions)) : null;
    }

    /// <summary>The next '.' or '/' outside square brackets and braces.</summary>
    private static int NextOperator(string code, int from)
    {
        var depth = 0;
        for (var i = from; i < code.Length; i++)
        {
            var c = code[i];
            if (c is '[' or '{')
            {
                depth++;
            }
            else if (c is ']' or '}')
            {
                depth--;
            }
            else if (depth == 0 && c is '.' or '/')
            {
                return i;
            }
        }

        return code.Length;
    }

    /// <summary>One term: an annotation, 10*n / 10^n, or a (prefixed) atom with an optional exponent, then annotations.</summary>
    private static bool Term(string term, out double factor, out Dictionary<string, int> dimensions)
    {
        factor = 1;
        dimensions = new Dictionary<string, int>(StringComparer.Ordinal);

        // Annotations ({beats}, {cells}) carry no unit (UCUM §12).
        var brace = term.IndexOf('{', StringComparison.Ordinal);
        if (brace >= 0)
        {
            if (!term.EndsWith('}'))
            {
                return false;
            }

            term = term[..brace];
            if (term.Length == 0)
            {
                return true;
            }
        }

        if (term.StartsWith("10*", StringComparison.Ordinal) || term.StartsWith("10^", StringComparison.Ordinal))
        {
            if (!int.TryParse(term[3..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var power))
            {
                return false;
            }

            factor = Math.Pow(10, power);
            return true;
        }

        if (int.TryParse(term, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            factor = number;
            return number > 0;
        }

        // The exponent: trailing digits with an optional sign ("m2", "s-1"); digits inside brackets ("m[H2O]") are not one.
        var digits = term.Length;
        while (digits > 0 && char.IsAsciiDigit(term[digits - 1]))
        {
            digits--;
        }

        if (digits > 0 && digits < term.Length && term[digits - 1] is '+' or '-')
        {
            digits--;
        }

        var exponent = 1;
        var atom = term;
        if (digits > 0 && digits < term.Length)
        {
            exponent = int.Parse(term[digits..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            atom = term[..digits];
        }

        if (!Atom(atom, out var unit))
        {
            return false;
        }

        factor = Math.Pow(unit.Factor, exponent);
        foreach (var (name, power) in unit.Dimensions)
        {
            dimensions[name] = power * exponent;
        }

        return true;
    }

    private static bool Atom(string text, out Unit unit)
    {
        if (Atoms.TryGetValue(text, out var plain))
        {
            unit = plain.Unit;
            return true;
        }

        foreach (var length in (int[])[2, 1])
        {
            if (text.Length > length && Prefixes.TryGetValue(text[..length], out var scale) && Atoms.TryGetValue(text[length..], out var prefixed) && prefixed.Metric)
            {
                unit = prefixed.Unit with { Factor = prefixed.Unit.Factor * scale };
                return true;
            }
        }

        unit = null!;
        return false;
    }

    /// <summary>Base units in ordinal order with their exponents ("g.m-1.s-2"); "1" when dimensionless.</summary>
    private static string Format(Dictionary<string, int> dimensions)
    {
        var parts = dimensions.Where(d => d.Value != 0).OrderBy(d => d.Key, StringComparer.Ordinal).ToList();
        if (parts.Count == 0)
        {
            return "1";
        }

        var text = new StringBuilder();
        foreach (var (name, exponent) in parts)
        {
            if (text.Length > 0)
            {
                text.Append('.');
            }

            text.Append(name);
            if (exponent != 1)
            {
                text.Append(exponent.ToString(CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }
}
