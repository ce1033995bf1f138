"""Per-exchange routes for the fake server: recorded public answers plus a small order store
answering in each exchange's real order format (create, fetch by client id, cancel, list)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
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
        self.margin_cap: Decimal | None = None  # a modify above this notional is refused for margin

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
            spot_only = ("orderListId", "cummulativeQuoteQty", "icebergQty", "isWorking", "workingTime", "origQuoteOrderQty")
            order = {k: v for k, v in order.items() if k not in spot_only}
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

    def modify(self, req: Request) -> Any:
        """USD-M Modify Order (PUT /fapi/v1/order): new price and quantity, same ids."""
        order = self._find(req)
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return 400, {"code": -2013, "msg": "Order does not exist."}
        p = req.params
        if self.margin_cap is not None and Decimal(p["quantity"]) * Decimal(p["price"]) > self.margin_cap:
            return 400, {"code": -2019, "msg": "Margin is insufficient."}
        order.update(price=p["price"], origQty=p["quantity"], updateTime=self.server._now_ms())
        return dict(order)

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
    server.static("GET", "/api/v3/ticker/24hr", ex, "ticker_24hr.json")
    server.static("GET", "/api/v3/account", ex, "account.json")
    server.static("GET", "/fapi/v1/leverageBracket", ex, "leverageBracket.json")
    server.static("GET", "/fapi/v3/positionRisk", ex, "positionRisk.json")
    server.route("GET", "/sapi/v1/capital/config/getall", lambda _r: [])
    server.route("GET", "/fapi/v1/income", lambda _r: [])  # no funding paid or charged yet
    server.static("GET", "/sapi/v1/margin/allPairs", ex, "margin_allPairs.json")
    server.static("GET", "/sapi/v1/margin/isolated/allPairs", ex, "margin_isolated_allPairs.json")
    orders = BinanceOrders(server)
    for prefix, futures in (("/api/v3", False), ("/fapi/v1", True)):
        server.route("POST", f"{prefix}/order", lambda r, f=futures: orders.create(r, f))
        server.route("GET", f"{prefix}/order", orders.get)
        server.route("DELETE", f"{prefix}/order", orders.cancel)
        server.route("GET", f"{prefix}/openOrders", orders.open_orders)
    return orders


@dataclass
class BinanceAccount:
    """USD-M account settings: position mode (dual side = hedge) and margin type per symbol,
    answering as Binance does when nothing changes or a position blocks the change."""

    dual_side: bool = True
    margin_types: dict[str, str] = field(default_factory=dict)
    positions: set[str] = field(default_factory=set)  # symbols with an open position

    def position_mode(self, req: Request) -> Any:
        dual = req.params["dualSidePosition"] == "true"
        if dual == self.dual_side:
            return 400, {"code": -4059, "msg": "No need to change position side."}
        self.dual_side = dual
        return {"code": 200, "msg": "success"}

    def margin_type(self, req: Request) -> Any:
        symbol, kind = req.params["symbol"], req.params["marginType"]
        if self.margin_types.get(symbol, "CROSSED") == kind:
            return 400, {"code": -4046, "msg": "No need to change margin type."}
        if symbol in self.positions:
            return 400, {"code": -4048, "msg": "Margin type cannot be changed if there exists position."}
        self.margin_types[symbol] = kind
        return {"code": 200, "msg": "success"}


def install_binanceusdm(server: FakeExchange) -> tuple[BinanceOrders, BinanceAccount]:
    """Binance with the USD-M endpoints the perpetuals venue adds."""
    orders = install_binance(server)
    account = BinanceAccount()
    server.static("GET", "/fapi/v1/premiumIndex", "binance", "premiumIndex.json")
    server.static("GET", "/fapi/v1/openInterest", "binance", "openInterest.json")
    server.route("PUT", "/fapi/v1/order", orders.modify)
    server.route("POST", "/fapi/v1/positionSide/dual", account.position_mode)
    server.route("POST", "/fapi/v1/marginType", account.margin_type)
    return orders, account


def _okx(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


class OkxOrders:
    """OKX v5 trade endpoints: orders keyed by clOrdId."""

    def __init__(self, server: FakeExchange) -> None:
        self.server = server
        self.orders: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(681000000000000001)

    def create_batch(self, req: Request) -> Any:
        """ccxt sends single orders to the batch endpoint: a JSON list of order objects."""
        answers = [self.create(item)["data"][0] for item in json.loads(req.body)]
        failed = any(a["sCode"] != "0" for a in answers)
        return _okx(answers, "1" if failed else "0", "")

    def create(self, p: dict[str, Any]) -> Any:
        coid = p.get("clOrdId") or str(next(self._ids))
        if coid in self.orders:
            return _okx([{"clOrdId": coid, "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId", "tag": "", "ts": ""}], "1", "")
        now = str(self.server._now_ms())
        market = p["ordType"] == "market"
        order_id = str(next(self._ids))
        self.orders[coid] = {
            "accFillSz": p["sz"] if market else "0", "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "",
            "attachAlgoOrds": [], "avgPx": "42000.1" if market else "", "cTime": now, "cancelSource": "",
            "cancelSourceReason": "", "category": "normal", "ccy": "", "clOrdId": coid, "fee": "0", "feeCcy": "USDT",
            "fillPx": "42000.1" if market else "", "fillSz": p["sz"] if market else "0", "fillTime": now if market else "",
            "instId": p["instId"], "instType": "SWAP" if p["instId"].endswith("-SWAP") else "SPOT", "isTpLimit": "false",
            "lever": "", "linkedAlgoOrd": {"algoId": ""}, "ordId": order_id, "ordType": p["ordType"], "pnl": "0",
            "posSide": "net", "px": p.get("px", ""), "pxType": "", "pxUsd": "", "pxVol": "", "quickMgnType": "",
            "rebate": "0", "rebateCcy": "USDT", "reduceOnly": str(p.get("reduceOnly", False)).lower(), "side": p["side"],
            "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "source": "", "state": "filled" if market else "live",
            "stpId": "", "stpMode": "cancel_maker", "sz": p["sz"], "tag": "", "tdMode": p.get("tdMode", "cash"),
            "tgtCcy": "", "tpOrdPx": "", "tpTriggerPx": "", "tpTriggerPxType": "", "tradeId": "", "uTime": now,
        }
        return _okx([{"clOrdId": coid, "ordId": order_id, "sCode": "0", "sMsg": "Order placed", "tag": "", "ts": now}])

    def _find(self, req: Request) -> dict[str, Any] | None:
        p = req.params
        return self.orders.get(p.get("clOrdId") or "") or next(
            (o for o in self.orders.values() if o["ordId"] == p.get("ordId")), None)

    def get(self, req: Request) -> Any:
        order = self._find(req)
        if order is None:
            return _okx([], "51603", "Order does not exist")
        return _okx([order])

    def cancel(self, req: Request) -> Any:
        order = self._find(req)
        if order is None or order["state"] != "live":
            return _okx([{"clOrdId": req.params.get("clOrdId", ""), "ordId": "", "sCode": "51400",
                          "sMsg": "Order cancellation failed as the order has been filled, canceled or does not exist"}], "1", "")
        order["state"] = "canceled"
        order["uTime"] = str(self.server._now_ms())
        return _okx([{"clOrdId": order["clOrdId"], "ordId": order["ordId"], "sCode": "0", "sMsg": ""}])

    def pending(self, req: Request) -> Any:
        inst = req.params.get("instId")
        return _okx([o for o in self.orders.values() if o["state"] == "live" and (inst is None or o["instId"] == inst)])


def install_okx(server: FakeExchange) -> OkxOrders:
    ex = "okx"
    empty = _okx([])

    def instruments(req: Request) -> Any:
        kind = req.params.get("instType")
        return fixture(ex, f"instruments_{kind.lower()}.json") if kind in ("SPOT", "SWAP") else empty

    server.route("GET", "/api/v5/public/instruments", instruments)
    server.static("GET", "/api/v5/market/books", ex, "books.json")
    server.static("GET", "/api/v5/market/trades", ex, "trades.json")
    server.static("GET", "/api/v5/market/candles", ex, "candles.json")
    server.static("GET", "/api/v5/account/balance", ex, "balance.json")
    server.static("GET", "/api/v5/account/positions", ex, "positions.json")
    server.route("GET", "/api/v5/asset/currencies", lambda _r: empty)
    server.route("GET", "/api/v5/account/bills", lambda _r: empty)  # funding bills: none paid or charged yet
    orders = OkxOrders(server)
    server.route("POST", "/api/v5/trade/order", lambda r: orders.create(r.params))
    server.route("POST", "/api/v5/trade/batch-orders", orders.create_batch)
    server.route("GET", "/api/v5/trade/order", orders.get)
    server.route("POST", "/api/v5/trade/cancel-order", orders.cancel)
    server.route("GET", "/api/v5/trade/orders-pending", orders.pending)
    return orders


def _bybit(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": 1704067200020}


class BybitOrders:
    """Bybit v5 order endpoints: orders keyed by orderLinkId. A conditional order (one with a
    triggerPrice) rests "Untriggered" until ``trigger`` fills it, keeping its orderLinkId, and
    is "Deactivated" when canceled, as on Bybit."""

    def __init__(self, server: FakeExchange) -> None:
        self.server = server
        self.orders: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1321003749386327552)

    def create(self, req: Request) -> Any:
        p = req.params
        link = p.get("orderLinkId") or str(next(self._ids))
        if link in self.orders:
            return _bybit({}, 10001, "Duplicate orderLinkId")
        now = str(self.server._now_ms())
        trigger = p.get("triggerPrice")
        market = p["orderType"] == "Market" and trigger is None
        order_id = str(next(self._ids))
        self.orders[link] = {
            "orderId": order_id, "orderLinkId": link, "blockTradeId": "", "symbol": p["symbol"],
            "price": p.get("price", "0"), "qty": p["qty"], "side": p["side"], "isLeverage": "", "positionIdx": 0,
            "orderStatus": "Untriggered" if trigger else "Filled" if market else "New", "cancelType": "UNKNOWN",
            "rejectReason": "EC_NoError", "avgPrice": "42000.01" if market else "0", "leavesQty": "0" if market else p["qty"],
            "leavesValue": "0", "cumExecQty": p["qty"] if market else "0", "cumExecValue": "0", "cumExecFee": "0",
            "timeInForce": p.get("timeInForce", "GTC"), "orderType": p["orderType"], "stopOrderType": "Stop" if trigger else "",
            "orderIv": "", "triggerPrice": str(trigger or ""), "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
            "slTriggerBy": "", "triggerDirection": int(p.get("triggerDirection", 0)), "triggerBy": "LastPrice" if trigger else "",
            "lastPriceOnCreated": "", "reduceOnly": p.get("reduceOnly", False),
            "closeOnTrigger": False, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
            "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": now, "updatedTime": now,
            "category": p["category"],
        }
        return _bybit({"orderId": order_id, "orderLinkId": link})

    def _find(self, req: Request) -> dict[str, Any] | None:
        p = req.params
        return self.orders.get(p.get("orderLinkId") or "") or next(
            (o for o in self.orders.values() if o["orderId"] == p.get("orderId")), None)

    def realtime(self, req: Request) -> Any:
        p = req.params
        if p.get("orderLinkId") or p.get("orderId"):
            found = self._find(req)
            chosen = [found] if found is not None else []
        else:
            chosen = [o for o in self.orders.values() if o["orderStatus"] in ("New", "PartiallyFilled", "Untriggered")
                      and o["symbol"] == p.get("symbol", o["symbol"]) and o["category"] == p.get("category")]
        return _bybit({"list": [{k: v for k, v in o.items() if k != "category"} for o in chosen],
                       "nextPageCursor": "", "category": p.get("category", "spot")})

    def cancel(self, req: Request) -> Any:
        order = self._find(req)
        if order is None or order["orderStatus"] not in ("New", "PartiallyFilled", "Untriggered"):
            return _bybit({}, 110001, "Order does not exist.")
        order["orderStatus"] = "Deactivated" if order["orderStatus"] == "Untriggered" else "Cancelled"
        order["updatedTime"] = str(self.server._now_ms())
        return _bybit({"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]})

    def trigger(self, link: str, price: str) -> None:
        """The market reached a conditional order's trigger: it fills whole at ``price``."""
        order = self.orders[link]
        qty = Decimal(order["qty"])
        order.update({"orderStatus": "Filled", "avgPrice": price, "cumExecQty": order["qty"], "leavesQty": "0",
                      "cumExecValue": str(qty * Decimal(price)), "cumExecFee": str(qty * Decimal(price) * Decimal("0.00055")),
                      "updatedTime": str(self.server._now_ms())})


def install_bybit(server: FakeExchange) -> BybitOrders:
    ex = "bybit"

    def instruments(req: Request) -> Any:
        kind = req.params.get("category")
        return fixture(ex, f"instruments_{kind}.json") if kind in ("spot", "linear") else fixture(ex, "instruments_empty.json")

    server.route("GET", "/v5/market/instruments-info", instruments)
    server.static("GET", "/v5/asset/coin/query-info", ex, "coin_query_info.json")
    server.static("GET", "/v5/user/query-api", ex, "query_api.json")
    server.static("GET", "/v5/account/info", ex, "account_info.json")
    server.static("GET", "/v5/market/orderbook", ex, "orderbook.json")
    server.static("GET", "/v5/market/recent-trade", ex, "recent_trade.json")
    server.static("GET", "/v5/market/kline", ex, "kline.json")
    server.static("GET", "/v5/account/wallet-balance", ex, "wallet_balance.json")
    server.static("GET", "/v5/position/list", ex, "position_list.json")
    orders = BybitOrders(server)
    server.route("POST", "/v5/order/create", orders.create)
    server.route("GET", "/v5/order/realtime", orders.realtime)
    server.route("POST", "/v5/order/cancel", orders.cancel)
    # executions of type Funding (ccxt's fetchFundingHistory): none paid or charged yet
    server.route("GET", "/v5/execution/list", lambda _r: _bybit({"nextPageCursor": "", "category": "linear", "list": []}))
    return orders


INSTALLERS = {"binance": install_binance, "okx": install_okx, "bybit": install_bybit}


class HyperliquidFake:
    """Hyperliquid's two endpoints: ``POST /info`` (read requests by ``type``) and ``POST
    /exchange`` (signed actions by ``action.type``), answering in Hyperliquid's formats. Orders
    are keyed by cloid; ``margin_cap`` refuses orders and modifies above that notional for
    margin, ``positions`` blocks a margin mode switch, as Hyperliquid does."""

    def __init__(self, server: FakeExchange) -> None:
        self.server = server
        self.orders: dict[str, dict[str, Any]] = {}
        self._oids = itertools.count(77738308)
        self.margin_cap: Decimal | None = None
        self.positions: set[int] = set()  # asset indexes with an open position
        self.leverage: dict[int, dict[str, Any]] = {}  # asset -> {"isCross", "leverage"} as last set
        self.coins = [m["name"] for m in fixture("hyperliquid", "metaAndAssetCtxs.json")[0]["universe"]]

    def actions(self, kind: str) -> list[dict[str, Any]]:
        """The signed actions of one type the server received, in order."""
        found = [json.loads(r.body)["action"] for r in self.server.calls("POST", "/exchange")]
        return [a for a in found if a["type"] == kind]

    def info(self, req: Request) -> Any:
        p = json.loads(req.body)
        kind = p["type"]
        if kind in ("metaAndAssetCtxs", "spotMeta"):
            return fixture("hyperliquid", f"{kind}.json")
        if kind == "userFunding":
            return []  # no funding paid or charged yet
        if kind == "orderStatus":
            order = self.orders.get(p["oid"]) if isinstance(p["oid"], str) else next(
                (o for o in self.orders.values() if o["oid"] == p["oid"]), None)
            if order is None:
                return {"status": "unknownOid"}
            return {"status": "order", "order": {"order": order, "status": order["status"],
                                                 "statusTimestamp": self.server._now_ms()}}
        return 422, {"error": f"Failed to deserialize the JSON body into the target type: unknown info type {kind}"}

    def exchange(self, req: Request) -> Any:
        action = json.loads(req.body)["action"]
        kind = action["type"]
        if kind == "order":
            return self._ok("order", {"statuses": [self._place(o) for o in action["orders"]]})
        if kind == "batchModify":
            return self._ok("batchModify", {"statuses": [self._modify(m["oid"], m["order"]) for m in action["modifies"]]})
        if kind == "updateLeverage":
            asset = action["asset"]
            if asset in self.positions and self.leverage.get(asset, {}).get("isCross", True) != action["isCross"]:
                return {"status": "err", "response": "Cannot switch leverage type with open position."}
            self.leverage[asset] = {"isCross": action["isCross"], "leverage": action["leverage"]}
            return {"status": "ok", "response": {"type": "default"}}
        if kind == "cancelByCloid":
            statuses = []
            for cancel in action["cancels"]:
                order = self.orders.get(cancel["cloid"])
                if order is None or order["status"] != "open":
                    statuses.append({"error": "Order was never placed, already canceled, or filled. asset=0"})
                else:
                    order["status"] = "canceled"
                    statuses.append("success")
            return self._ok("cancel", {"statuses": statuses})
        return {"status": "err", "response": f"unknown action {kind}"}

    @staticmethod
    def _ok(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": "ok", "response": {"type": kind, "data": data}}

    def _too_big(self, wire: dict[str, Any]) -> bool:
        return self.margin_cap is not None and Decimal(wire["s"]) * Decimal(wire["p"]) > self.margin_cap

    def _place(self, wire: dict[str, Any]) -> dict[str, Any]:
        if self._too_big(wire):
            return {"error": f"Insufficient margin to place order. asset={wire['a']}"}
        oid = next(self._oids)
        self.orders[wire["c"]] = {
            "coin": self.coins[wire["a"]], "side": "B" if wire["b"] else "A", "limitPx": wire["p"], "sz": wire["s"],
            "oid": oid, "timestamp": self.server._now_ms(), "triggerCondition": "N/A", "isTrigger": False,
            "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": wire["r"], "orderType": "Limit",
            "origSz": wire["s"], "tif": wire["t"]["limit"]["tif"], "cloid": wire["c"], "status": "open",
        }
        return {"resting": {"oid": oid, "cloid": wire["c"]}}

    def _modify(self, oid: int, wire: dict[str, Any]) -> dict[str, Any]:
        order = next((o for o in self.orders.values() if o["oid"] == oid and o["status"] == "open"), None)
        if order is None:
            return {"error": "Cannot modify canceled or filled order"}
        if self._too_big(wire):
            return {"error": f"Insufficient margin to place order. asset={wire['a']}"}
        order.update(limitPx=wire["p"], sz=wire["s"], origSz=wire["s"], oid=next(self._oids))
        return {"resting": {"oid": order["oid"], "cloid": order["cloid"]}}


def install_hyperliquid(server: FakeExchange) -> HyperliquidFake:
    fake = HyperliquidFake(server)
    server.route("POST", "/info", fake.info)
    server.route("POST", "/exchange", fake.exchange)
    return fake
