using System.Collections;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>Walks a resource's element tree (contained resources included) to find references and identifiers.</summary>
internal static class ResourceWalker
{
    public static IEnumerable<T> Descendants<T>(Base root)
        where T : Base
    {
        var stack = new Stack<Base>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            foreach (var (_, value) in node.EnumerateElements())
            {
                switch (value)
                {
                    case T match:
                        yield return match;
                        stack.Push(match);
                        break;
                    case Base child:
                        stack.Push(child);
                        break;
                    case IEnumerable list and not string:
                        foreach (var item in list)
                        {
                            if (item is T m)
                            {
                                yield return m;
                            }

                            if (item is Base b)
                            {
                                stack.Push(b);
                            }
                        }

                        break;
                }
            }
        }
    }

    /// <summary>The resource's own top-level identifiers (the <c>identifier</c> search parameter of every type that has one).</summary>
    public static IEnumerable<Identifier> TopLevelIdentifiers(Resource resource)
    {
        foreach (var (name, value) in resource.EnumerateElements())
        {
            if (!string.Equals(name, "identifier", StringComparison.Ordinal))
            {
                continue;
            }

            switch (value)
            {
                case Identifier single:
                    yield return single;
                    break;
                case IEnumerable<Identifier> many:
                    foreach (var identifier in many)
                    {
                        yield return identifier;
                    }

                    break;
            }
        }
    }
}
