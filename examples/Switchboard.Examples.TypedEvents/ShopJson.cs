using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Examples.TypedEvents;

/// <summary>The data of <c>#order_placed</c>.</summary>
/// <param name="Id">The order's number.</param>
/// <param name="Item">What was ordered.</param>
/// <param name="Quantity">How many.</param>
public sealed record OrderPlaced(int Id, string Item, int Quantity);

/// <summary>The data of the request <c>stock</c>.</summary>
/// <param name="Item">The item asked about.</param>
public sealed record StockQuery(string Item);

/// <summary>The answer to <c>stock</c>.</summary>
/// <param name="Item">The item.</param>
/// <param name="InStock">How many are left.</param>
public sealed record StockLevel(string Item, int InStock);

/// <summary>Serialization code generated at build time for every type the shop sends, with the web defaults
/// (camelCase names), as <see cref="Payload.DefaultJsonOptions"/> has them.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(StockQuery))]
[JsonSerializable(typeof(StockLevel))]
internal sealed partial class ShopJson : JsonSerializerContext;
