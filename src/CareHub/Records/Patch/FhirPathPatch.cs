using System.Collections;
using CareHub.Fhir;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Introspection;
using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;
using Hl7.FhirPath;
using Hl7.FhirPath.Expressions;
using FhirPathExpression = Hl7.FhirPath.Expressions.Expression;

namespace CareHub.Records.Patch;

/// <summary>
/// The FHIRPath Patch body of the FHIR R4 patch interaction (fhirpatch.html): a Parameters resource with one
/// <c>operation</c> parameter per change, whose parts name the type (add | insert | delete | replace | move), a FHIRPath
/// <c>path</c>, and the <c>name</c>, <c>value</c>, <c>index</c>, <c>source</c> and <c>destination</c> the type needs.
/// </summary>
/// <remarks>
/// Paths are evaluated by Firely's FHIRPath engine over <see cref="PocoNode"/>s, which keep each match's parent,
/// element name and list index, so the match can be changed in place on a deep copy through Firely's introspection.
/// The messages never quote the path or the values: a path such as <c>name.where(family='...')</c> carries patient data.
/// </remarks>
public static class FhirPathPatch
{
    private static readonly ModelInspector Inspector = ModelInfo.ModelInspector;
    private static readonly FhirPathCompiler Compiler = new();

    /// <summary>
    /// Applies the operations in <paramref name="patch"/>, in order, to a copy of <paramref name="current"/> and
    /// returns the patched resource; neither argument is changed.
    /// </summary>
    /// <exception cref="FhirException">
    /// 400 when the Parameters is not a FHIRPath Patch document; 422 when an operation cannot be applied, changes the
    /// resource's id, or the result is not a valid resource.
    /// </exception>
    public static Resource Apply(Resource current, Parameters patch)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(patch);

        var operations = patch.Parameter.Select(Operation.Parse).ToList();
        var result = (Resource)current.DeepCopy();
        foreach (var operation in operations)
        {
            operation.ApplyTo(result);
            if (result.Id != current.Id)
            {
                throw operation.Unprocessable("it changes the resource's id, which a patch may not do");
            }
        }

        // fhirpatch.html: "Servers SHALL return an error if the outcome of the patch operation is a not a valid
        // resource". The strict round trip checks cardinality, codes and primitive formats, and drops emptied elements.
        return PatchedResource.Parse(PatchedResource.ToJson(result), "FHIRPath Patch");
    }

    private enum OperationType
    {
        Add,
        Insert,
        Delete,
        Replace,
        Move,
    }

    private sealed record Operation(
        int Position,
        OperationType Type,
        CompiledExpression Path,
        CompiledExpression? ListHolder,
        string? ListName,
        string? Name,
        Parameters.ParameterComponent? Value,
        int? Index,
        int? Source,
        int? Destination)
    {
        private static readonly string[] PartNames = ["type", "path", "name", "value", "index", "source", "destination"];

        public static Operation Parse(Parameters.ParameterComponent parameter, int position)
        {
            if (parameter.Name != "operation")
            {
                throw BadRequest(position, "every parameter of a FHIRPath Patch must be named 'operation'");
            }

            if (parameter.Value is not null || parameter.Resource is not null)
            {
                throw BadRequest(position, "an operation carries its content in parts, not in a value or resource");
            }

            var parts = new Dictionary<string, Parameters.ParameterComponent>(StringComparer.Ordinal);
            foreach (var part in parameter.Part)
            {
                if (part.Name is null || !PartNames.Contains(part.Name))
                {
                    throw BadRequest(position, $"parts must be named one of {string.Join(", ", PartNames)}");
                }

                if (!parts.TryAdd(part.Name, part))
                {
                    throw BadRequest(position, $"the part '{part.Name}' is given more than once");
                }
            }

            var type = StringPart(position, parts, "type", required: true) switch
            {
                "add" => OperationType.Add,
                "insert" => OperationType.Insert,
                "delete" => OperationType.Delete,
                "replace" => OperationType.Replace,
                "move" => OperationType.Move,
                _ => throw BadRequest(position, "'type' must be one of add, insert, delete, replace, move"),
            };

            var pathText = StringPart(position, parts, "path", required: true)!;
            FhirPathExpression pathExpression;
            CompiledExpression path;
            try
            {
                pathExpression = Compiler.Parse(pathText);
                path = Compiler.Compile(pathExpression);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                throw BadRequest(position, "'path' is not a valid FHIRPath expression");
            }

            // insert and move name a list ("Path of the collection"), which may be empty and so match nothing:
            // the list is found as a named child of the element its path's focus selects.
            CompiledExpression? listHolder = null;
            string? listName = null;
            if (type is OperationType.Insert or OperationType.Move)
            {
                if (pathExpression is not ChildExpression child)
                {
                    throw BadRequest(position, $"the path of {Describe(type)} must end with the name of a list element");
                }

                listHolder = Compiler.Compile(child.Focus);
                listName = child.ChildName;
            }

            var name = StringPart(position, parts, "name", required: type == OperationType.Add);
            var value = parts.GetValueOrDefault("value");
            if (type is OperationType.Add or OperationType.Insert or OperationType.Replace)
            {
                if (value is null)
                {
                    throw BadRequest(position, $"{Describe(type)} needs a 'value' part");
                }

                CheckValueShape(position, value, "value");
            }

            return new Operation(
                position,
                type,
                path,
                listHolder,
                listName,
                name,
                value,
                IntegerPart(position, parts, "index", required: type == OperationType.Insert),
                IntegerPart(position, parts, "source", required: type == OperationType.Move),
                IntegerPart(position, parts, "destination", required: type == OperationType.Move));
        }

        public void ApplyTo(Resource resource)
        {
            switch (Type)
            {
                case OperationType.Add:
                    ApplyAdd(resource);
                    break;
                case OperationType.Insert:
                    ApplyInsert(resource);
                    break;
                case OperationType.Delete:
                    ApplyDelete(resource);
                    break;
                case OperationType.Replace:
                    ApplyReplace(resource);
                    break;
                case OperationType.Move:
                    ApplyMove(resource);
                    break;
            }
        }

        /// <summary>Appends to a list, or sets a singular element that has no value yet.</summary>
        private void ApplyAdd(Resource resource)
        {
            var container = Single(Select(resource, Path), "the element to add to").Poco;
            var (property, choiceType) = FindElement(container, Name!)
                ?? throw Unprocessable($"'{Name}' is not an element of {TypeOf(container)}");
            var value = Build(property, choiceType, Value!);
            if (property.IsCollection)
            {
                ListOf(container, property).Add(value);
                return;
            }

            if (Get(container, property) is not null)
            {
                throw Unprocessable($"{TypeOf(container)}.{property.Name} already has a value; add only sets an empty non-repeating element, use replace");
            }

            Set(container, property, value);
        }

        /// <summary>fhirpatch.html: the index "must be equal or less than the number of elements in the list".</summary>
        private void ApplyInsert(Resource resource)
        {
            var (list, property, where) = TargetList(resource);
            if (Index > list.Count)
            {
                throw Unprocessable($"index {Index} is beyond the end of {where}, which has {list.Count} item(s)");
            }

            list.Insert(Index!.Value, Build(property, null, Value!));
        }

        private void ApplyMove(Resource resource)
        {
            var (list, _, where) = TargetList(resource);
            if (Source >= list.Count || Destination >= list.Count)
            {
                throw Unprocessable($"source {Source} and destination {Destination} must both be below the {list.Count} item(s) of {where}");
            }

            var item = list[Source!.Value];
            list.RemoveAt(Source.Value);
            list.Insert(Destination!.Value, item);
        }

        /// <summary>fhirpatch.html: delete removes the one element found, and does nothing if none is found.</summary>
        private void ApplyDelete(Resource resource)
        {
            var matches = Select(resource, Path);
            if (matches.Count == 0)
            {
                return;
            }

            var (node, property, parent) = Located(Single(matches, "the element to delete"), "delete");
            if (property.IsCollection)
            {
                ListOf(parent, property).RemoveAt(node.Index!.Value);
            }
            else
            {
                Set(parent, property, null);
            }
        }

        private void ApplyReplace(Resource resource)
        {
            var (node, property, parent) = Located(Single(Select(resource, Path), "the element to replace"), "replace");
            var value = Build(property, null, Value!);
            if (property.IsCollection)
            {
                ListOf(parent, property)[node.Index!.Value] = value;
            }
            else
            {
                Set(parent, property, value);
            }
        }

        private (IList List, PropertyMapping Property, string Where) TargetList(Resource resource)
        {
            var holder = Single(Select(resource, ListHolder!), "the element holding the list").Poco;
            var (property, _) = FindElement(holder, ListName!)
                ?? throw Unprocessable($"'{ListName}' is not an element of {TypeOf(holder)}");
            var where = $"{TypeOf(holder)}.{property.Name}";
            if (!property.IsCollection)
            {
                throw Unprocessable($"{where} is not a repeating element");
            }

            return (ListOf(holder, property), property, where);
        }

        /// <summary>The parent, and the parent's element, that a match sits in, so that it can be changed in place.</summary>
        private (PocoNode Node, PropertyMapping Property, Base Parent) Located(PocoNode node, string verb)
        {
            if (node.Parent is null)
            {
                throw Unprocessable($"the path selects the whole resource, which a patch cannot {verb}");
            }

            var parent = node.Parent.Poco;
            var (property, _) = FindElement(parent, node.Name)
                ?? throw Unprocessable($"the path selects something that is not an element of {TypeOf(parent)}");
            if (property.IsCollection && node.Index is null)
            {
                throw Unprocessable($"the path selects {TypeOf(parent)}.{property.Name} without saying which item");
            }

            return (node, property, parent);
        }

        /// <summary>
        /// Evaluates a path on the resource. fhirpatch.html: resolve() "SHALL only be used to refer to contained
        /// resource within the resource being patched", so every match must sit inside this resource.
        /// </summary>
        private List<PocoNode> Select(Resource resource, CompiledExpression expression)
        {
            var root = resource.ToPocoNode(Inspector);
            List<PocoNode> matches;
            try
            {
                matches = expression([root], new FhirEvaluationContext()).ToList();
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or InvalidCastException or FormatException or NotSupportedException)
            {
                throw Unprocessable("the path could not be evaluated on the resource");
            }

            foreach (var match in matches)
            {
                var top = match;
                while (top.Parent is not null)
                {
                    top = top.Parent;
                }

                if (!ReferenceEquals(top.Poco, resource))
                {
                    throw Unprocessable("the path selects something that is not an element of the resource being patched");
                }
            }

            return matches;
        }

        /// <summary>fhirpatch.html: "The FHIRPath statement must return a single element".</summary>
        private PocoNode Single(List<PocoNode> matches, string what) => matches.Count switch
        {
            1 => matches[0],
            0 => throw Unprocessable($"the path found no match for {what}"),
            _ => throw Unprocessable($"the path found {matches.Count} matches for {what}; it must find exactly one"),
        };

        /// <summary>
        /// Builds the element to write from a 'value' part. A value[x] must be of a type the element allows
        /// (fhirpatch.html: "Servers SHALL return an error if the type is wrong"); an element whose type cannot be a
        /// parameter value (e.g. a backbone element such as Patient.contact) is given as parts, one per child element.
        /// </summary>
        private Base Build(PropertyMapping property, string? choiceType, Parameters.ParameterComponent part)
        {
            var element = $"{property.DeclaringClass.Name}.{property.Name}";
            return part.Value is { } value ? Convert(property, choiceType, value, element) : Compose(property, part.Part, element);
        }

        private Base Convert(PropertyMapping property, string? choiceType, DataType value, string element)
        {
            var allowed = property.FhirTypeMappings.Select(m => m.Name).ToList();
            var typeName = value.TypeName;
            var typeFits = property.Choice == ChoiceType.None
                ? property.ImplementingType.IsInstanceOfType(value) || allowed.Contains(typeName)
                : allowed.Contains(typeName) && (choiceType is null || string.Equals(choiceType, typeName, StringComparison.OrdinalIgnoreCase));
            if (!typeFits)
            {
                throw Unprocessable($"a value of type {typeName} cannot go in {element}, which takes {string.Join(" | ", allowed)}");
            }

            if (property.ImplementingType.IsInstanceOfType(value))
            {
                return value.DeepCopy();
            }

            // A Parameters value is a plain code; the model types bound codes by their value set (Code<T>).
            if (value is PrimitiveType primitive && typeof(PrimitiveType).IsAssignableFrom(property.ImplementingType))
            {
                var typed = (PrimitiveType)Activator.CreateInstance(property.ImplementingType)!;
                try
                {
                    typed.JsonValue = primitive.JsonValue;
                }
                catch (Exception e) when (e is CodedException or ArgumentException or FormatException or InvalidCastException)
                {
                    throw Unprocessable($"the value is not allowed in {element}: it is not in the element's required value set");
                }

                typed.ElementId = primitive.ElementId;
                typed.Extension.AddRange(primitive.Extension.Select(x => (Extension)x.DeepCopy()));
                return typed;
            }

            throw Unprocessable($"a value of type {typeName} cannot go in {element}");
        }

        private Base Compose(PropertyMapping property, List<Parameters.ParameterComponent> parts, string element)
        {
            var mapping = property.Choice == ChoiceType.None ? Inspector.FindOrImportClassMapping(property.ImplementingType) : null;
            if (mapping is null || mapping.IsPrimitive || mapping.IsFhirPrimitive || mapping.IsAbstract == true)
            {
                throw Unprocessable($"{element} cannot be built from parts; give a typed value");
            }

            var instance = mapping.CreateInstance();
            foreach (var part in parts)
            {
                var (child, choiceType) = FindElement(instance, part.Name!)
                    ?? throw Unprocessable($"'{part.Name}' is not an element of {mapping.Name}");
                var value = Build(child, choiceType, part);
                if (child.IsCollection)
                {
                    ListOf(instance, child).Add(value);
                }
                else if (Get(instance, child) is not null)
                {
                    throw Unprocessable($"{mapping.Name}.{child.Name} is given more than once but does not repeat");
                }
                else
                {
                    Set(instance, child, value);
                }
            }

            return instance;
        }

        /// <summary>Finds an element by its FHIR name, or by a choice element's typed name (deceasedBoolean).</summary>
        private static (PropertyMapping Property, string? ChoiceType)? FindElement(Base owner, string name)
        {
            var mapping = Inspector.FindOrImportClassMapping(owner.GetType());
            if (mapping is null)
            {
                return null;
            }

            var property = mapping.FindMappedElementByName(name);
            if (property is not null)
            {
                return property.RepresentsValueElement ? null : (property, null);
            }

            property = mapping.FindMappedElementByChoiceName(name);
            return property is null || property.Choice == ChoiceType.None ? null : (property, name[property.Name.Length..]);
        }

        private static IList ListOf(Base owner, PropertyMapping property)
        {
            if (Get(owner, property) is IList list)
            {
                return list;
            }

            var created = (IList)Activator.CreateInstance(property.PropertyType)!;
            Set(owner, property, created);
            return created;
        }

        private static object? Get(Base owner, PropertyMapping property) => Native(property).GetValue(owner);

        private static void Set(Base owner, PropertyMapping property, object? value) => Native(property).SetValue(owner, value);

        private static System.Reflection.PropertyInfo Native(PropertyMapping property) =>
            property.NativeProperty
            ?? throw new InvalidOperationException($"The model maps {property.DeclaringClass.Name}.{property.Name} to no .NET property.");

        private static string TypeOf(Base element) => Inspector.FindOrImportClassMapping(element.GetType())?.Name ?? element.TypeName;

        private static string Describe(OperationType type) => type.ToString().ToLowerInvariant();

        public FhirException Unprocessable(string problem) =>
            FhirException.Unprocessable(
                $"FHIRPath Patch operation {Position} ({Describe(Type)}) cannot be applied: {problem}.",
                $"Parameters.parameter[{Position}]");

        private static FhirException BadRequest(int position, string problem) =>
            FhirException.BadRequest(
                $"FHIRPath Patch operation {position} is malformed: {problem}.",
                $"Parameters.parameter[{position}]");

        /// <summary>A value part holds a value[x] or parts, never both; nested parts follow the same rule.</summary>
        private static void CheckValueShape(int position, Parameters.ParameterComponent part, string where)
        {
            var hasValue = part.Value is not null;
            var hasParts = part.Part.Count > 0;
            if (hasValue == hasParts || part.Resource is not null)
            {
                throw BadRequest(position, $"'{where}' must hold either a value[x] or parts, and nothing else");
            }

            foreach (var child in part.Part)
            {
                if (string.IsNullOrEmpty(child.Name))
                {
                    throw BadRequest(position, $"every part inside '{where}' needs a name");
                }

                CheckValueShape(position, child, $"{where}.{child.Name}");
            }
        }

        private static string? StringPart(int position, Dictionary<string, Parameters.ParameterComponent> parts, string name, bool required)
        {
            if (!parts.TryGetValue(name, out var part))
            {
                return required ? throw BadRequest(position, $"the '{name}' part is missing") : null;
            }

            return part.Value is PrimitiveType { JsonValue: string text } && text.Length > 0
                ? text
                : throw BadRequest(position, $"the '{name}' part must hold a non-empty string or code");
        }

        private static int? IntegerPart(int position, Dictionary<string, Parameters.ParameterComponent> parts, string name, bool required)
        {
            if (!parts.TryGetValue(name, out var part))
            {
                return required ? throw BadRequest(position, $"the '{name}' part is missing") : null;
            }

            return part.Value is PrimitiveType { JsonValue: int number } && number >= 0
                ? number
                : throw BadRequest(position, $"the '{name}' part must hold a non-negative integer");
        }
    }
}
