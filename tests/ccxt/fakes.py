"""Per-exchange routes for the fake server: recorded public answers plus a small order store
answering in each exchange's real order format (create, fetch by client id, cancel, list)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from tests.ccxt.server import FakeExchange, Request, fixture


class BinanceOrders:
    """Spot (/api/v3) and USD-M futures (/fapi/v1) orders, keyed by client order id."""

    def __init__(self, server: FakeExchange) -> None:
        self.server = server
        self.orders: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(28000001)
        self.best_ask = Decimal(fixture("binance", "depth.json")["asks"][0][0])

    def _find(self, req: Request) -> dict[str, Any] | None:
        params = req.params
        return self.orders.get(params.get("origClientOrderId") or "") or next(
            (o for o in self.orders.values() if str(o["orderId"]) == params.get("orderId")), None
        )

    def create(self, req: Request, futures: bool) -> Any:
        p = req.params
        coid = p.get("newClientOrderId") or f"auto{next(self._ids)}"
        if coid in self.orders:
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        now = self.server._now_ms()
        qty = Decimal(p["quantity"])
        market = p["type"] == "MARKET"
        price = self.best_ask if market else Decimal(p.get("price", "0"))
        order = {
            "symbol": p["symbol"], "orderId": next(self._ids), "orderListId": -1, "clientOrderId": coid,
            "price": p.get("price", "0.00000000"), "origQty": p["quantity"],
            "executedQty": p["quantity"] if market else "0.00000000",
            "cummulativeQuoteQty": str(qty * price) if market else "0.00000000",
            "status": "FILLED" if market else "NEW", "timeInForce": p.get("timeInForce", "GTC"),
            "type": p["type"], "side": p["side"], "stopPrice": p.get("stopPrice", "0.00000000"),
            "icebergQty": "0.00000000", "time": now, "updateTime": now, "isWorking": True,
            "workingTime": now, "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if futures:
            order = {k: v for k, v in order.items() if k not in ("orderListId", "cummulativeQuoteQty", "icebergQty", "isWorking", "workingTime", "origQuoteOrderQty")}
            order.update({"cumQty": order["executedQty"], "cumQuote": str(qty * price) if market else "0",
                          "avgPrice": str(price) if market else "0.00", "reduceOnly": p.get("reduceOnly") == "true",
                          "positionSide": "BOTH", "closePosition": False, "origType": p["type"],
                          "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE", "goodTillDate": 0})
        self.orders[coid] = order
        ack = dict(order)
        ack["transactTime"] = now
        if market and not futures:
            ack["fills"] = [{"price": str(price), "qty": p["quantity"], "commission": "0.00000000",
                             "commissionAsset": "BNB", "tradeId": next(self._ids)}]
        return ack

    def get(self, req: Request) -> Any:
        order = self._find(req)
        if order is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}
        return order

    def cancel(self, req: Request) -> Any:
        order = self._find(req)
        if order is None or order["status"] in ("FILLED", "CANCELED"):
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        order["status"] = "CANCELED"
        order["updateTime"] = self.server._now_ms()
        return {**order, "origClientOrderId": order["clientOrderId"], "clientOrderId": "web_cancel_1",
                "transactTime": order["updateTime"]}

    def open_orders(self, req: Request) -> Any:
        symbol = req.params.get("symbol")
        return [o for o in self.orders.values() if o["status"] in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o["symbol"] == symbol)]


def install_binance(server: FakeExchange) -> BinanceOrders:
    ex = "binance"
    server.static("GET", "/api/v3/exchangeInfo", ex, "exchangeInfo.json")
    server.static("GET", "/fapi/v1/exchangeInfo", ex, "fapi_exchangeInfo.json")
    server.static("GET", "/dapi/v1/exchangeInfo", ex, "dapi_exchangeInfo.json")
    server.static("GET", "/api/v3/depth", ex, "depth.json")
    server.static("GET", "/fapi/v1/depth", ex, "depth.json")
    server.static("GET", "/api/v3/aggTrades", ex, "aggTrades.json")
    server.static("GET", "/api/v3/klines", ex, "klines.json")
    server.static("GET", "/api/v3/account", ex, "account.json")
    server.static("GET", "/fapi/v1/leverageBracket", ex, "leverageBracket.json")
    server.static("GET", "/fapi/v3/positionRisk", ex, "positionRisk.json")
    server.route("GET", "/sapi/v1/capital/config/getall", lambda _r: [])
    server.static("GET", "/sapi/v1/margin/allPairs", ex, "margin_allPairs.json")
    server.static("GET", "/sapi/v1/margin/isolated/allPairs", ex, "margin_isolated_allPairs.json")
    orders = BinanceOrders(server)
    for prefix, futures in (("/api/v3", False), ("/fapi/v1", True)):
        server.route("POST", f"{prefix}/order", lambda r, f=futures: orders.create(r, f))
        server.route("GET", f"{prefix}/order", orders.get)
        server.route("DELETE", f"{prefix}/order", orders.cancel)
        server.route("GET", f"{prefix}/openOrders", orders.open_orders)
    return orders
